#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <errno.h>

// prctl is variadic, which Swift cannot call. The parent-death signal is Linux's alone:
// elsewhere this does nothing and fails with ENOSYS.
static inline int kiln_set_parent_death_signal(int signal) {
#ifdef __linux__
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0UL, 0UL, 0UL);
#else
    (void)signal;
    errno = ENOSYS;
    return -1;
#endif
}
