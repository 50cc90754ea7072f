// What `fleetcmd --version` says about the build: the commit it was built from.
#ifndef C_FLEET_BUILD_INFO_H
#define C_FLEET_BUILD_INFO_H

/// The commit the binary was built from (scripts/release.sh writes it into build_commit.h before building), or
/// "unknown" for a build that did not go through the release script.
const char *fleet_build_commit(void);

#endif
