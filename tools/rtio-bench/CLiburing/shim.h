// liburing (Debian liburing-dev, found through pkg-config; `tools/setup` installs it), for
// rtio-bench only. Swift code never imports this module: liburing ships its own copy of the
// kernel's io_uring.h, whose struct definitions clash with the <linux/io_uring.h> that
// swift-system's CSystem imports. CLiburingShim includes liburing.h from C and exposes an
// opaque API instead; this module only carries the pkg-config lookup and `-luring`.
#include <liburing.h>
