/* The tear tests' scenarios (tear_fix.h): a profile and how a fresh card
 * arrives. Every tear test (matrix singles and pairs, kill, HSM faults,
 * cross-station) runs over each; CMakeLists.txt lists which with what
 * strides. */
#include <stdlib.h>
#include <string.h>

#include "tear_fix.h"

static const struct tear_scenario scenarios[] = {
	{ "reference", "reference.json", "reference-batch.csv", NULL,
	    "profiles/reference.json on factory cards (DES zero PICC key)" },
};

const struct tear_scenario *
tear_scenario_find(const char *name)
{
	if (name == NULL)
		name = getenv("TEAR_SCENARIO");
	if (name == NULL || name[0] == '\0')
		name = "reference";
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (strcmp(scenarios[i].name, name) == 0)
			return &scenarios[i];
	return NULL;
}
