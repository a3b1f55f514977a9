// Error reporting for library code: functions return 0 on success, or fill an
// eddy_err and return -1.  Only a tool's main prints and exits.
#ifndef EDDY_ERR_H
#define EDDY_ERR_H

#include <stdarg.h>

typedef struct {
    char msg[512];
} eddy_err;

// Formats the message into e (if e is non-NULL) and returns -1, so that a
// failing path reads `return eddy_fail(e, "record %d: ...", i);`.
int eddy_fail(eddy_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Prefixes an existing message with more context: "ctx: old message".
int eddy_wrap(eddy_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
