/*
 * swarm-dash page: takes the swarm's picture from the server-sent event
 * stream /events (falling back to polling /state.json) and draws it with
 * d3 (Debian's libjs-d3, version 3): a force layout of nodes coloured by
 * role with their links, and tables of nodes, attacks, swarm-hub's
 * counters, message spread and recent events.  body[data-pictures]
 * counts the pictures drawn.
 */
(function () {
	"use strict";
	var W = 560, H = 460, pictures = 0;
	var svg = d3.select("#graph");
	var linkLayer = svg.append("g"), nodeLayer = svg.append("g");
	var simNodes = {};          /* id -> layout node, kept so positions persist */
	var force = d3.layout.force().size([W, H]).charge(-260).linkDistance(110)
		.gravity(0.08).on("tick", tick);

	/* Move the drawn nodes and links to the layout's positions. */
	function tick() {
		linkLayer.selectAll("line")
			.attr("x1", function (d) { return d.source.x; })
			.attr("y1", function (d) { return d.source.y; })
			.attr("x2", function (d) { return d.target.x; })
			.attr("y2", function (d) { return d.target.y; });
		nodeLayer.selectAll("g.node")
			.attr("transform", function (d) { return "translate(" + d.x + "," + d.y + ")"; });
	}

	/* One undirected link per pair; suspect when either end suspects the other. */
	function pairLinks(links) {
		var byPair = {};
		links.forEach(function (l) {
			var a = l.source < l.target ? l.source : l.target;
			var b = l.source < l.target ? l.target : l.source;
			var k = a + "-" + b, old = byPair[k];
			if (!old)
				byPair[k] = { key: k, a: a, b: b, state: l.state };
			else if (l.state !== "alive")
				old.state = l.state;
		});
		return d3.values(byPair);
	}

	function nodeClass(n) {
		var c = "node " + n.role + " " + n.state + " " + n.membership;
		return n.seen_suspect ? c + " suspect" : c;
	}

	/* Redraw the graph: keep layout nodes by id, restart the layout. */
	function drawGraph(pic) {
		var keep = {};
		var nodes = pic.nodes.map(function (n) {
			var s = simNodes[n.id] || { x: W / 2 + (Math.random() - 0.5) * 50,
						     y: H / 2 + (Math.random() - 0.5) * 50 };
			for (var k in n)
				s[k] = n[k];
			keep[n.id] = s;
			return s;
		});
		simNodes = keep;
		var links = pairLinks(pic.links).filter(function (l) {
			return keep[l.a] && keep[l.b];
		}).map(function (l) {
			return { key: l.key, source: keep[l.a], target: keep[l.b], state: l.state };
		});
		var line = linkLayer.selectAll("line").data(links, function (d) { return d.key; });
		line.enter().append("line");
		line.attr("class", function (d) { return "link " + d.state; });
		line.exit().remove();
		var g = nodeLayer.selectAll("g.node").data(nodes, function (d) { return d.id; });
		var ge = g.enter().append("g").call(force.drag);
		ge.append("circle").attr("r", 13);
		ge.append("text").attr("dy", 26).attr("text-anchor", "middle");
		g.attr("class", nodeClass).attr("data-id", function (d) { return d.id; });
		g.select("circle").attr("class", function (d) { return d.state === "up" ? d.role : "down"; });
		g.select("text").text(function (d) { return d.name + " " + d.id.slice(0, 4); });
		g.exit().remove();
		force.nodes(nodes).links(links).start();
		tick();
	}

	/* Fill a table body from rows (arrays of cells), keyed, with a class per row. */
	function fillTable(sel, rows, key, cls) {
		var tr = d3.select(sel).select("tbody").selectAll("tr").data(rows, key);
		tr.enter().append("tr");
		tr.exit().remove();
		tr.attr("class", cls || null).attr("data-key", key);
		tr.order();
		var td = tr.selectAll("td").data(function (d) { return d.cells; });
		td.enter().append("td");
		td.exit().remove();
		td.text(function (c) { return c.text; }).attr("class", function (c) { return c.cls || null; });
	}

	function cell(text, cls) {
		return { text: text === null || text === undefined ? "" : String(text), cls: cls };
	}

	function drawTables(pic) {
		fillTable("#nodes", pic.nodes.map(function (n) {
			return { id: n.id, state: n.state, membership: n.membership, cells: [
				cell(n.id), cell(n.name), cell(n.role), cell(n.state, "state"),
				cell(n.membership + " (" + n.seen_alive + "/" + n.observers + " alive" +
				     (n.seen_suspect ? ", " + n.seen_suspect + " suspect" : "") + ")", "membership"),
				cell(n.incarnation), cell(n.view.length), cell(n.tx_bps), cell(n.rx_bps),
				cell(n.delivered), cell(n.commands), cell(n.rejects), cell(n.bans), cell(n.maze)] };
		}), function (d) { return d.id; }, function (d) { return d.state + " " + d.membership; });
		var kinds = d3.keys(pic.attacks).sort();
		fillTable("#attacks", kinds.map(function (k) {
			return { k: k, cells: [cell(k), cell(pic.attacks[k])] };
		}).concat([{ k: "bans", cells: [cell("bans"), cell(pic.bans)] }]),
			function (d) { return d.k; });
		var hub = pic.hub || { "not watched": "" };
		fillTable("#hub", d3.keys(hub).map(function (k) {
			return { k: k, cells: [cell(k), cell(hub[k])] };
		}), function (d) { return d.k; });
		fillTable("#spread", pic.spread.map(function (s) {
			return { k: s.mark, cells: [cell(s.mark), cell(s.nodes + " / " + s.of),
				cell(s.all_after_s === null ? "" : s.all_after_s + " s")] };
		}), function (d) { return d.k; });
		fillTable("#events", pic.events.slice().reverse().map(function (e, i) {
			return { k: e.node + e.time_ms + e.kind + i, cells: [
				cell(new Date(e.time_ms).toISOString().slice(11, 23)), cell(e.node_name),
				cell(e.kind), cell(e.kind === "reject" ? e.code : ""), cell(e.sender),
				cell(e.about), cell(e.addr)] };
		}), function (d) { return d.k; });
	}

	function draw(pic) {
		if (!pic || !pic.nodes)
			return;
		pictures++;
		document.body.setAttribute("data-pictures", pictures);
		d3.select("#summary").text(pic.summary.up + " of " + pic.summary.nodes + " nodes up, " +
			pic.summary.links + " links, " + d3.sum(d3.values(pic.attacks)) + " rejects, " +
			pic.bans + " bans");
		drawGraph(pic);
		drawTables(pic);
	}

	/* Live feed: server-sent events; polling when the stream breaks. */
	function connect() {
		var feed = d3.select("#feed");
		if (!window.EventSource)
			return poll();
		var es = new EventSource("/events");
		es.onmessage = function (m) {
			feed.text("feed: live " + new Date().toISOString().slice(11, 19));
			draw(JSON.parse(m.data));
		};
		es.onerror = function () {
			feed.text("feed: reconnecting");
		};
	}

	function poll() {
		d3.json("/state.json", function (err, pic) {
			if (!err)
				draw(pic);
			setTimeout(poll, 1000);
		});
	}

	connect();
})();
