print("rtio-admin: not yet")
