/* The tear tests' scenarios (tear_fix.h): a profile and how a fresh card
 * arrives. Every tear test (matrix singles and pairs, kill, HSM faults,
 * cross-station) runs over each; CMakeLists.txt lists which with what
 * strides. */
#include <stdlib.h>
#include <string.h>

#include "card_check.h"
#include "tear_fix.h"

/* The card's supplier loaded the PICC transport key the profile names,
 * diversified for this card's UID. */
static int
arrives_with_transport_key(struct tear_env *e, struct tear_card *c, char *why, size_t cap)
{
	return dfi_test_card_arrives_with_transport(c->sim, e->hsm, e->profile, e->row, why, cap);
}

static const struct tear_scenario scenarios[] = {
	{ "reference", "reference.json", "reference-batch.csv", NULL,
	    "profiles/reference.json on factory cards (DES zero PICC key)" },
	{ "transport", "transport.json", "reference-batch.csv", arrives_with_transport_key,
	    "profiles/transport.json on cards that arrive with an AES PICC transport key "
	    "diversified from transport-master (the zero key is never tried)" },
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
