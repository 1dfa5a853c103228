/*
 * The shared library's own translation unit. libdfissue.so is the whole of
 * libdfissue.a linked with libdfissue.map as its version script; a target
 * needs one source of its own, and this is it: it only declares what the
 * library exports first, so that a change of that contract shows here.
 */
#include "dfissue/version.h"
