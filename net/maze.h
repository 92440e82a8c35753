/*
 * The maze explorer module: nodes walk a maze, sense the walls of the cell
 * they stand in, share walls and trail counts in MODULE pheromones, and
 * prefer the least-trodden passage.  The first node whose shared map links
 * start to goal floods the path; every node checks it against what it
 * knows before adopting it.
 */
#ifndef EXO_NET_MAZE_H
#define EXO_NET_MAZE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "net/swarm.h"

enum {
	MAZE_MODULE_ID = 1,
	MAZE_MAX_CELLS = 512,
	MAZE_N = 1, MAZE_E = 2, MAZE_S = 4, MAZE_W = 8,
	MAZE_KNOWN = 0x10,
	MAZE_SOLVED_EVENT = 1,     /* SE_MODULE code when a node holds a solution */
};

/* The physical world a node senses (provided by the host or simulator). */
struct maze_world {
	uint8_t width, height;
	uint16_t start, goal;
	const uint8_t *walls;      /* width*height cells, MAZE_N|E|S|W bits */
};

struct maze_state {
	const struct maze_world *world;
	uint16_t pos;
	uint16_t cells;
	uint64_t next_move_ms, next_share_ms, next_solve_ms;
	bool dirty;                /* map changed since the last solve attempt */
	bool solved;
	uint16_t path_len;
	uint8_t known[MAZE_MAX_CELLS];
	uint8_t trail[MAZE_MAX_CELLS];
	uint8_t unshared[MAZE_MAX_CELLS / 8];
	uint16_t path[MAZE_MAX_CELLS];
};
_Static_assert(sizeof(struct maze_state) <= SWARM_MODULE_STATE, "maze state fits a module slot");

extern const struct swarm_module maze_module;

/* Build a perfect maze (one path between any two cells) from a seed. */
int maze_generate(uint8_t *walls, uint8_t width, uint8_t height, uint64_t seed);

/* Walk path over the true walls: true when it leads start to goal. */
bool maze_path_valid(const struct maze_world *w, const uint16_t *path, size_t len);

#endif
