/* dfi_version(): the project version CMake compiled in. */
#include "dfissue/version.h"

const char *
dfi_version(void)
{
	return DFISSUE_LIB_VERSION;
}
