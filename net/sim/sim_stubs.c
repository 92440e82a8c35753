#include <stdio.h>
#include "net/sim/sim.h"
int sim_scenario_nert(const struct sim_opts *o) { (void)o; fprintf(stderr, "todo\n"); return 2; }
int sim_scenario_maze(struct sim *s, const struct sim_opts *o) { (void)s; (void)o; return 2; }
