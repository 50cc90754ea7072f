#include "CFleetSockets.h"

static _Thread_local int current_loop = -1;

void cfleet_set_current_loop(int wake) { current_loop = wake; }

int cfleet_current_loop(void) { return current_loop; }
