/* The fault tests' handle on faultp11's control functions (faultp11.h),
 * header-only like testutil.h: each test executable resolves them in the
 * module the HSM layer has already loaded. */
#ifndef FAULTP11_CTL_H
#define FAULTP11_CTL_H

#include <check.h>
#include <dlfcn.h>

#include "faultp11.h"

struct faultp11_ctl {
	faultp11_arm_fn arm;
	faultp11_calls_fn calls;
	faultp11_fired_fn fired;
	faultp11_fired_name_fn name;
	faultp11_set_leave_active_fn leave_active;
	faultp11_arm_hang_fn arm_hang;
	faultp11_unhang_fn unhang;
	faultp11_fail_always_fn fail_always;
};

/* path: the module as the HSM layer opened it; RTLD_NOLOAD finds that very
 * object (the same counters) and fails the test when it was not loaded. */
static inline void
faultp11_ctl_open(struct faultp11_ctl *c, const char *path)
{
	void *so = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	ck_assert_msg(so != NULL, "faultp11 not loaded: %s", dlerror());
	*(void **)&c->arm = dlsym(so, "faultp11_arm");
	*(void **)&c->calls = dlsym(so, "faultp11_calls");
	*(void **)&c->fired = dlsym(so, "faultp11_fired");
	*(void **)&c->name = dlsym(so, "faultp11_fired_name");
	*(void **)&c->leave_active = dlsym(so, "faultp11_set_leave_active");
	*(void **)&c->arm_hang = dlsym(so, "faultp11_arm_hang");
	*(void **)&c->unhang = dlsym(so, "faultp11_unhang");
	*(void **)&c->fail_always = dlsym(so, "faultp11_fail_always");
	ck_assert(c->arm != NULL && c->calls != NULL && c->fired != NULL && c->name != NULL &&
	    c->leave_active != NULL && c->arm_hang != NULL && c->unhang != NULL &&
	    c->fail_always != NULL);
	dlclose(so); /* drops only our reference */
}

#endif
