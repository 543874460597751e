#ifndef CRUNCONTROL_H
#define CRUNCONTROL_H

// What Swift cannot do safely itself: signal handlers that only record the signal (nothing
// else is async-signal-safe), and a progress stamp one thread writes and another reads.

/// Catches SIGINT, SIGTERM and SIGUSR1 (unblocking them in the calling thread, whose mask later
/// threads inherit): the first only records its number. A later one, at
/// least a second after the first, ends the process at once by the signal's default action;
/// one sooner is the same request delivered twice (a terminal's Ctrl-C reaches mpirun and its
/// ranks, and mpirun forwards it to them again as SIGTERM).
void crun_catch_stop_signals(void);

/// The number of the first stop signal caught, or 0.
int crun_stop_signal(void);

/// Records that this process made progress now (monotonic clock).
void crun_mark_progress(void);

/// Seconds since the last `crun_mark_progress`.
double crun_seconds_since_progress(void);

#endif
