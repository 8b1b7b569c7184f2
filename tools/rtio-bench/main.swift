print("rtio-bench: not yet")
