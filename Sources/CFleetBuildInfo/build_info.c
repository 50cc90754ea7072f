#include "CFleetBuildInfo.h"

// scripts/release.sh writes build_commit.h (git-ignored) with `#define FLEETCMD_COMMIT "abc123…"`.
#if __has_include("build_commit.h")
#include "build_commit.h"
#endif
#ifndef FLEETCMD_COMMIT
#define FLEETCMD_COMMIT "unknown"
#endif

const char *fleet_build_commit(void) { return FLEETCMD_COMMIT; }
