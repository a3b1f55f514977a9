#include "err.h"

#include <stdio.h>
#include <string.h>

int eddy_fail(eddy_err *e, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int eddy_wrap(eddy_err *e, const char *fmt, ...)
{
    if (e) {
        char prefix[256], old[sizeof e->msg];
        // Truncation is acceptable: a message is cut, never overrun.
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        memcpy(old, e->msg, sizeof old);
        int n = snprintf(e->msg, sizeof e->msg, "%s: ", prefix);
        if (n > 0 && (size_t)n < sizeof e->msg) snprintf(e->msg + n, sizeof e->msg - (size_t)n, "%.*s", (int)(sizeof e->msg - (size_t)n - 1), old);
    }
    return -1;
}
