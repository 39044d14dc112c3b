/* discovery.c — keep a gRPC client's endpoints equal to what etcd lists for a service.
 *
 * The etcd watch thread calls on_change with the full set under
 * /im/services/{service}/ after every change; each value is the registration JSON
 * ({"addr": "host:port", ...}); the client swaps its endpoint set in one step. */
#include "im/daemon.h"
#include "im/err.h"
#include "im/log.h"

#include <jansson.h>
#include <stdio.h>

/* @locality: the etcd watch thread */
static void on_change(void *ud, const im_etcd_kv_t *kvs, size_t n)
{
    im_discovery_t *dc = ud;
    const char **addrs = im_calloc(n ? n : 1, sizeof *addrs);
    json_t **docs = im_calloc(n ? n : 1, sizeof *docs);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        docs[i] = json_loads(kvs[i].value, 0, NULL);
        const char *addr = json_string_value(json_object_get(docs[i], "addr"));
        if (addr && *addr) addrs[m++] = addr;
    }
    im_rpc_client_set_endpoints(dc->client, addrs, m);
    im_info("discovery.endpoints", "count=%zu", m);
    for (size_t i = 0; i < n; i++) json_decref(docs[i]);
    im_free(docs);
    im_free(addrs);
}

int im_discovery_init(im_discovery_t *dc, im_etcd_t *e, const char *service,
                      const ProtobufCServiceDescriptor *svc)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s%s/", IM_ETCD_SERVICES_PREFIX, service);
    dc->client = im_rpc_client_new(svc);
    dc->watch = im_etcd_watch_prefix(e, prefix, on_change, dc);
    return dc->watch ? IM_OK : IM_EUNAVAIL;
}

void im_discovery_fini(im_discovery_t *dc)
{
    im_etcd_watch_free(dc->watch);   /* first: no more endpoint updates */
    dc->watch = NULL;
    im_rpc_client_free(dc->client);
    dc->client = NULL;
}

void im_discovery_set_breaker(im_discovery_t *dc, const im_breaker_cfg_t *cfg)
{
    im_rpc_client_set_breaker(dc->client, cfg);
}
