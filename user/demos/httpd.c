/*
 * A small HTTP/1.0 server over the library OS's sockets: GET / answers a
 * page, anything else 404.  Run it with a port forwarded from the host:
 *   tools/exo-run -p 8080:80 build/user/httpd 80
 *   curl http://127.0.0.1:8080/
 * A second argument N makes it exit after N requests (for the tests).
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char page[] =
	"<!doctype html>\n<title>ExoSwarm</title>\n"
	"<h1>Hello from ExoSwarm</h1>\n<p>Served by lwIP in the library OS.</p>\n";

/* Reads a request head (up to the blank line): its length, or -1. */
static int read_request(int c, char *buf, int size)
{
	int n = 0;
	while (n < size - 1) {
		ssize_t r = read(c, buf + n, (size_t)(size - 1 - n));
		if (r <= 0)
			return -1;
		n += (int)r;
		buf[n] = 0;
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			return n;
	}
	return n;
}

static void answer(int c, const char *req)
{
	char head[256];
	int found = !strncmp(req, "GET / ", 6) || !strncmp(req, "GET /index.html ", 16);
	const char *body = found ? page : "not found\n";
	int n = snprintf(head, sizeof head,
			 "HTTP/1.0 %s\r\nContent-Type: text/%s\r\nContent-Length: %zu\r\n"
			 "Server: exoswarm-httpd\r\nConnection: close\r\n\r\n",
			 found ? "200 OK" : "404 Not Found", found ? "html" : "plain", strlen(body));
	write(c, head, (size_t)n);
	write(c, body, strlen(body));
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 80, left = argc > 2 ? atoi(argv[2]) : -1, one = 1;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 16)) {
		perror("httpd");
		return 1;
	}
	printf("httpd: serving on port %d\n", port);
	fflush(stdout);
	for (; left != 0; left--) {
		int c = accept(l, 0, 0);
		if (c < 0)
			continue;
		char req[2048];
		if (read_request(c, req, sizeof req) > 0) {
			answer(c, req);
			printf("httpd: %.*s\n", (int)strcspn(req, "\r\n"), req);
			fflush(stdout);
		}
		close(c);
	}
	close(l);
	return 0;
}
