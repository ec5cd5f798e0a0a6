// The runner's guard on outgoing connections: connect() reaches only the hosts the plugin's manifest declares.
#pragma once

#include "plugins/outgoing_hosts.h"

#include <vector>

namespace quanqu::plugins {

// From now on, a connect() the plugin's code makes (through the C library's connect, which the
// runner executable overrides) succeeds only towards an address of one of `hosts` (on its port,
// when one is given); any other address, and every non-IP socket, fails with EACCES. Names are
// resolved now and again on a miss (at most every 10 s), so a host whose addresses change is
// still reached. A guard against mistakes and careless libraries, not a wall: raw system calls
// pass it. Plugins that declare no host get an empty network namespace instead.
void guard_connections(std::vector<OutgoingHost> hosts);

}  // namespace quanqu::plugins
