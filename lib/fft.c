#include "fft.h"

#include <fftw3.h>
#include <pthread.h>

static pthread_mutex_t plan_mutex = PTHREAD_MUTEX_INITIALIZER;

void fft_plan_lock(void) { pthread_mutex_lock(&plan_mutex); }
void fft_plan_unlock(void) { pthread_mutex_unlock(&plan_mutex); }
unsigned fft_flags(void) { return FFTW_ESTIMATE; }
