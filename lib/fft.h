// FFTW planning discipline shared by every module: planning is not
// thread-safe (fftw_execute is), so each module makes its plans once, under
// fft_plan_lock(), and caches them.  Plans use FFTW_ESTIMATE so that the same
// command gives the same bytes on every run (FFTW_MEASURE picks algorithms by
// timing, which changes the rounding).  Transforms are unnormalised; c2r
// destroys its input.
#ifndef EDDY_FFT_H
#define EDDY_FFT_H

void fft_plan_lock(void);
void fft_plan_unlock(void);
// Planner flags for every plan in the project.
unsigned fft_flags(void);

#endif
