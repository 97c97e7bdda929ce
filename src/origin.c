/*
 * origin - internal or external. See origin.h.
 */
#include "origin.h"

#include "cidr.h"

enum origin origin_decide(const struct config *cfg, const char *client_addr, const char *auth_user)
{
	if (cfg->trust_authenticated && auth_user != NULL && *auth_user != '\0')
		return ORIGIN_INTERNAL;
	if (client_addr == NULL || *client_addr == '\0')
		return ORIGIN_INTERNAL;
	return cidr_list_match_str(cfg->internal, client_addr) ? ORIGIN_INTERNAL : ORIGIN_EXTERNAL;
}
