/* The level names of dfissue/log.h; the handlers live on each handle
 * (no process-wide logging state: DEVELOPERS.md). */
#include "dfissue/log.h"

const char *
dfi_log_level_name(dfi_log_level level)
{
	switch (level) {
	case DFI_LOG_ERROR: return "error";
	case DFI_LOG_WARNING: return "warning";
	case DFI_LOG_INFO: return "info";
	case DFI_LOG_DEBUG: return "debug";
	}
	return "?";
}
