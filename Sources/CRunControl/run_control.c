#include "CRunControl.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t caught_signal = 0;
// Written once, by the first handler call, before caught_signal; read only by later handler
// calls, which sa_mask serialises with it.
static struct timespec first_caught;

static long long milliseconds_between(struct timespec from, struct timespec to) {
    return (long long)(to.tv_sec - from.tv_sec) * 1000 + (to.tv_nsec - from.tv_nsec) / 1000000;
}

static void on_stop_signal(int number) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (caught_signal == 0) {
        first_caught = now;
        caught_signal = number;
        return;
    }
    if (milliseconds_between(first_caught, now) < 1000) return;
    struct sigaction default_action;
    memset(&default_action, 0, sizeof default_action);
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    sigaction(number, &default_action, NULL);
    // Blocked while this handler runs, so delivered, with its default action, when it returns.
    raise(number);
}

static const int stop_signals[] = {SIGINT, SIGTERM, SIGUSR1};

void crun_catch_stop_signals(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    for (unsigned i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++) sigaddset(&action.sa_mask, stop_signals[i]);
    // Interrupted system calls resume: a signal must not turn a read or an fsync into an error.
    action.sa_flags = SA_RESTART;
    for (unsigned i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++) sigaction(stop_signals[i], &action, NULL);
    // A blocked signal is never delivered, and the mask is inherited: a launcher (a test
    // runner, a service manager) may have started us with these blocked.
    pthread_sigmask(SIG_UNBLOCK, &action.sa_mask, NULL);
}

int crun_stop_signal(void) { return caught_signal; }

static long long monotonic_nanoseconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

static _Atomic long long last_progress = 0;

void crun_mark_progress(void) { atomic_store(&last_progress, monotonic_nanoseconds()); }

double crun_seconds_since_progress(void) {
    return (double)(monotonic_nanoseconds() - atomic_load(&last_progress)) * 1e-9;
}
