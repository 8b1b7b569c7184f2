#ifndef REALTIMEIO_CLIBCAP_SHIM_H
#define REALTIMEIO_CLIBCAP_SHIM_H
#include <sys/capability.h>
#endif
