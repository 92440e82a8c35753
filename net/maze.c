/*
 * Maze explorer module (docs/PROTOCOL.md, "Modules").  Payloads, after the
 * module id byte: kind u8 = 1 (cells): count u8, then count x (cell u16,
 * walls u8, trail u8); kind 2 (solution): len u16, then len x cell u16.
 */
#include <errno.h>
#include <string.h>

#include "net/bytes.h"
#include "net/maze.h"

enum {
	KIND_CELLS = 1, KIND_PATH = 2,
	SHARE_MAX = 64,
	EXPLORER_STEP_MS = 100, WORKER_STEP_MS = 300,
	SHARE_MS = 500, SOLVE_MS = 200,
};

static const int8_t dx[4] = { 0, 1, 0, -1 };
static const int8_t dy[4] = { -1, 0, 1, 0 };
static const uint8_t wall_bit[4] = { MAZE_N, MAZE_E, MAZE_S, MAZE_W };
static const uint8_t opposite[4] = { MAZE_S, MAZE_W, MAZE_N, MAZE_E };

/* Neighbour of cell c in direction d, or -1 at the border. */
static int step_to(uint8_t w, uint8_t h, int c, int d)
{
	int x = c % w + dx[d], y = c / w + dy[d];

	return x < 0 || y < 0 || x >= w || y >= h ? -1 : y * w + x;
}

/* Randomised depth-first carving from cell 0; deterministic for the seed. */
int maze_generate(uint8_t *walls, uint8_t w, uint8_t h, uint64_t seed)
{
	uint16_t stack[MAZE_MAX_CELLS];
	uint8_t seen[MAZE_MAX_CELLS] = { 0 };
	size_t top = 0, cells = (size_t)w * h;

	if (!w || !h || cells > MAZE_MAX_CELLS)
		return -EINVAL;
	memset(walls, MAZE_N | MAZE_E | MAZE_S | MAZE_W, cells);
	stack[top++] = 0;
	seen[0] = 1;
	while (top) {                           /* iterative randomised DFS */
		int c = stack[top - 1], options[4], n = 0;
		for (int d = 0; d < 4; d++) {
			int nb = step_to(w, h, c, d);
			if (nb >= 0 && !seen[nb])
				options[n++] = d;
		}
		if (!n) {
			top--;
			continue;
		}
		seed = mix64(seed + 0x9e3779b97f4a7c15ULL);
		int d = options[seed % (uint64_t)n], nb = step_to(w, h, c, d);
		walls[c] &= (uint8_t)~wall_bit[d];
		walls[nb] &= (uint8_t)~opposite[d];
		seen[nb] = 1;
		stack[top++] = (uint16_t)nb;
	}
	return 0;
}

/* Check a path against the true walls (simulator and tests). */
bool maze_path_valid(const struct maze_world *w, const uint16_t *path, size_t len)
{
	if (!len || path[0] != w->start || path[len - 1] != w->goal)
		return false;
	for (size_t i = 1; i < len; i++) {
		int d;
		for (d = 0; d < 4; d++)
			if (step_to(w->width, w->height, path[i - 1], d) == path[i])
				break;
		if (d == 4 || (w->walls[path[i - 1]] & wall_bit[d]))
			return false;
	}
	return true;
}

/* Learn a cell's walls; marks it for sharing when it is news. */
static void learn(struct maze_state *m, uint16_t c, uint8_t walls, uint8_t trail, bool share)
{
	if (c >= m->cells)
		return;
	if (!(m->known[c] & MAZE_KNOWN)) {
		m->known[c] = MAZE_KNOWN | (walls & 0x0f);
		m->dirty = true;
		if (share)
			m->unshared[c / 8] |= (uint8_t)(1u << (c % 8));
	}
	if (trail > m->trail[c])
		m->trail[c] = trail;
}

/* Place the node on a random cell and sense it. */
static void maze_init(void *state, struct swarm_node *n, uint64_t now)
{
	struct maze_state *m = state;
	const struct maze_world *w = n->cfg.module_env;

	memset(m, 0, sizeof *m);
	if (!w || (size_t)w->width * w->height > MAZE_MAX_CELLS)
		return;
	m->world = w;
	m->cells = (uint16_t)(w->width * w->height);
	m->pos = (uint16_t)(swarm_random(n) % m->cells);
	m->next_move_ms = now;
	m->next_share_ms = now + SHARE_MS;
	m->next_solve_ms = now;
	learn(m, m->pos, w->walls[m->pos], 1, true);
}

/* Breadth-first search over passages both of whose cells are known. */
static bool solve(struct maze_state *m)
{
	uint16_t queue[MAZE_MAX_CELLS], prev[MAZE_MAX_CELLS], len = 0;
	uint8_t seen[MAZE_MAX_CELLS] = { 0 };
	size_t head = 0, tail = 0;
	const struct maze_world *w = m->world;

	if (!(m->known[w->start] & MAZE_KNOWN))
		return false;
	queue[tail++] = w->start;
	seen[w->start] = 1;
	while (head < tail) {
		uint16_t c = queue[head++];
		if (c == w->goal) {
			for (uint16_t x = c; ; x = prev[x]) {
				m->path[len++] = x;
				if (x == w->start)
					break;
			}
			for (uint16_t i = 0; i < len / 2; i++) {
				uint16_t t = m->path[i];
				m->path[i] = m->path[len - 1 - i];
				m->path[len - 1 - i] = t;
			}
			m->path_len = len;
			return true;
		}
		for (int d = 0; d < 4; d++) {
			int nb = step_to(w->width, w->height, c, d);
			if (nb < 0 || seen[nb] || (m->known[c] & wall_bit[d]) ||
			    !(m->known[nb] & MAZE_KNOWN))
				continue;
			seen[nb] = 1;
			prev[nb] = c;
			queue[tail++] = (uint16_t)nb;
		}
	}
	return false;
}

/* Hold a solution and report it once. */
static void adopt_solution(struct maze_state *m, struct swarm_node *n)
{
	m->solved = true;
	swarm_emit(n, &(struct swarm_event){ .kind = SE_MODULE, .code = MAZE_SOLVED_EVENT,
					     .about = n->id });
}

/* Flood our solution path. */
static void send_path(struct maze_state *m, struct swarm_node *n, uint64_t now)
{
	uint8_t buf[3 + 2 * MAZE_MAX_CELLS];

	if (3 + 2u * m->path_len > PHEROMONE_MAX_PAYLOAD - 1)
		return;
	buf[0] = KIND_PATH;
	put_u16(buf + 1, m->path_len);
	for (uint16_t i = 0; i < m->path_len; i++)
		put_u16(buf + 3 + 2 * i, m->path[i]);
	swarm_module_send(n, MAZE_MODULE_ID, buf, 3 + 2u * m->path_len, now);
}

/* Flood up to SHARE_MAX cells learned or trodden since the last share. */
static void share(struct maze_state *m, struct swarm_node *n, uint64_t now)
{
	uint8_t buf[2 + 4 * SHARE_MAX];
	uint8_t count = 0;

	for (uint16_t c = 0; c < m->cells && count < SHARE_MAX; c++) {
		if (!(m->unshared[c / 8] & (1u << (c % 8))))
			continue;
		m->unshared[c / 8] &= (uint8_t)~(1u << (c % 8));
		put_u16(buf + 2 + 4 * count, c);
		buf[4 + 4 * count] = m->known[c] & 0x0f;
		buf[5 + 4 * count] = m->trail[c];
		count++;
	}
	if (!count)
		return;
	buf[0] = KIND_CELLS;
	buf[1] = count;
	swarm_module_send(n, MAZE_MODULE_ID, buf, 2 + 4u * count, now);
}

/* Step to the open neighbour with the fewest footprints. */
static void move(struct maze_state *m, struct swarm_node *n)
{
	const struct maze_world *w = m->world;
	int best = -1;
	uint64_t rnd = swarm_random(n);

	for (int k = 0; k < 4; k++) {
		int d = (int)((rnd + (uint64_t)k) % 4), nb = step_to(w->width, w->height, m->pos, d);
		if (nb < 0 || (w->walls[m->pos] & wall_bit[d]))
			continue;
		if (best < 0 || m->trail[nb] < m->trail[best])
			best = nb;
	}
	if (best < 0)
		return;
	m->pos = (uint16_t)best;
	if (m->trail[best] < 255)
		m->trail[best]++;
	learn(m, m->pos, w->walls[m->pos], m->trail[best], true);
	m->unshared[m->pos / 8] |= (uint8_t)(1u << (m->pos % 8));   /* share the trail too */
}

/* Walk, share and try to solve on their own schedules. */
static void maze_tick(void *state, struct swarm_node *n, uint64_t now)
{
	struct maze_state *m = state;

	if (!m->world)
		return;
	if (now >= m->next_move_ms) {
		bool walker = n->role == ROLE_EXPLORER || n->role == ROLE_WORKER;
		if (walker && !m->solved)
			move(m, n);
		m->next_move_ms = now + (n->role == ROLE_EXPLORER ? EXPLORER_STEP_MS : WORKER_STEP_MS);
	}
	if (now >= m->next_share_ms) {
		if (!m->solved)
			share(m, n, now);
		m->next_share_ms = now + SHARE_MS;
	}
	if (now >= m->next_solve_ms && m->dirty && !m->solved) {
		m->dirty = false;
		if (solve(m)) {
			adopt_solution(m, n);
			send_path(m, n, now);
		}
		m->next_solve_ms = now + SOLVE_MS;
	}
}

/* The next of the module's timers. */
static uint64_t maze_deadline(const void *state)
{
	const struct maze_state *m = state;
	uint64_t t = m->next_move_ms < m->next_share_ms ? m->next_move_ms : m->next_share_ms;

	if (!m->world)
		return UINT64_MAX;
	if (m->dirty && m->next_solve_ms < t)
		t = m->next_solve_ms;
	return t;
}

/* Adopt a received path only if it is consistent with everything we know. */
static void on_path(struct maze_state *m, struct swarm_node *n, const uint8_t *p, size_t len)
{
	const struct maze_world *w = m->world;
	uint16_t count;

	if (len < 3 || m->solved)
		return;
	count = get_u16(p + 1);
	if (!count || count > m->cells || len != 3 + 2u * count)
		return;
	for (uint16_t i = 0; i < count; i++) {
		m->path[i] = get_u16(p + 3 + 2 * i);
		if (m->path[i] >= m->cells)
			return;
	}
	if (m->path[0] != w->start || m->path[count - 1] != w->goal)
		return;
	for (uint16_t i = 1; i < count; i++) {
		int d;
		for (d = 0; d < 4; d++)
			if (step_to(w->width, w->height, m->path[i - 1], d) == m->path[i])
				break;
		if (d == 4 || ((m->known[m->path[i - 1]] & MAZE_KNOWN) &&
			       (m->known[m->path[i - 1]] & wall_bit[d])))
			return;
	}
	m->path_len = count;
	adopt_solution(m, n);
}

/* Merge shared cells, or check a flooded solution. */
static void maze_process(void *state, struct swarm_node *n, uint32_t sender,
			 const uint8_t *data, size_t len, uint64_t now)
{
	struct maze_state *m = state;

	(void)sender;
	(void)now;
	if (!m->world || len < 2)
		return;
	if (data[0] == KIND_CELLS) {
		uint8_t count = data[1];
		if (len != 2 + 4u * count)
			return;
		for (uint8_t i = 0; i < count; i++)
			learn(m, get_u16(data + 2 + 4 * i), data[4 + 4 * i], data[5 + 4 * i], false);
	} else if (data[0] == KIND_PATH) {
		on_path(m, n, data, len);
	}
}

const struct swarm_module maze_module = {
	.name = "maze",
	.id = MAZE_MODULE_ID,
	.state_size = sizeof(struct maze_state),
	.init = maze_init,
	.process = maze_process,
	.tick = maze_tick,
	.next_deadline = maze_deadline,
};
