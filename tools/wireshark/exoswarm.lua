-- Wireshark dissector for the ExoSwarm wire formats (docs/PROTOCOL.md):
-- pheromones (version 6: gossip, membership, store, queen commands), the
-- swarm-hub envelope in front of them, and NERT (version 4: handshake,
-- cookie reply, encrypted data).  Every multi-byte field is big-endian.
-- Load it with: tshark -X lua_script:tools/wireshark/exoswarm.lua -r FILE
-- Packets are recognised by their contents (a heuristic on UDP), since
-- swarm ports are configurable.

local PHEROMONE_VERSION = 6
local NERT_VERSION = 4
local CERT_BYTES = 112
local SIG_BYTES = 64
local MAC_BYTES = 16
local PH_HEADER = 24
local PH_TRAILER = CERT_BYTES + SIG_BYTES + MAC_BYTES
local KV_ENTRY_HEADER = 15

local ph_types = {
	[1] = "HELLO", [2] = "DATA", [3] = "ALARM", [4] = "QUEEN_CMD", [5] = "REBIRTH",
	[6] = "DIE", [7] = "STATE", [8] = "MODULE", [9] = "PING", [10] = "ACK",
	[11] = "PING_REQ", [12] = "PULL", [13] = "SUSPECT", [14] = "ALIVE",
}
local roles = { [0] = "worker", [1] = "explorer", [2] = "sentinel", [3] = "queen" }
local queen_cmds = { [1] = "MARK", [2] = "STATE_SET", [3] = "REVOKE" }
local nert_types = { [1] = "INIT", [2] = "RESP", [3] = "DATA", [4] = "COOKIE" }

-- ------------------------------------------------------------ pheromone
local ph = Proto("exoswarm", "ExoSwarm pheromone")
local f = ph.fields
f.version = ProtoField.uint8("exoswarm.version", "Version")
f.type = ProtoField.uint8("exoswarm.type", "Type", base.DEC, ph_types)
f.ttl = ProtoField.uint8("exoswarm.ttl", "TTL")
f.hops = ProtoField.uint8("exoswarm.hops", "Hops")
f.sender = ProtoField.uint32("exoswarm.sender", "Sender", base.HEX)
f.seq = ProtoField.uint32("exoswarm.seq", "Sequence", base.HEX)
f.incarnation = ProtoField.uint32("exoswarm.incarnation", "Incarnation")
f.counter = ProtoField.uint32("exoswarm.counter", "Counter")
f.timestamp = ProtoField.uint64("exoswarm.timestamp_ms", "Timestamp (ms)")
f.payload_len = ProtoField.uint16("exoswarm.payload_len", "Payload length")
f.flags = ProtoField.uint8("exoswarm.flags", "Flags", base.HEX)
f.signed = ProtoField.bool("exoswarm.flags.signed", "Queen-signed payload", 8, nil, 0x01)
f.no_cert = ProtoField.bool("exoswarm.flags.no_cert", "Certificate left out (HELLO)", 8, nil, 0x02)
f.cert_wanted = ProtoField.bool("exoswarm.flags.cert_wanted", "Certificates wanted (HELLO)", 8, nil, 0x04)
f.reserved = ProtoField.uint8("exoswarm.reserved", "Reserved")
f.payload = ProtoField.bytes("exoswarm.payload", "Payload")
f.cert = ProtoField.bytes("exoswarm.cert", "Certificate")
f.cert_version = ProtoField.uint8("exoswarm.cert.version", "Version")
f.cert_roles = ProtoField.uint8("exoswarm.cert.roles", "Roles", base.HEX)
f.cert_id = ProtoField.uint32("exoswarm.cert.id", "Node id", base.HEX)
f.cert_expiry = ProtoField.uint64("exoswarm.cert.expiry_ms", "Expiry (ms)")
f.cert_pk = ProtoField.bytes("exoswarm.cert.pk", "Public key")
f.cert_sig = ProtoField.bytes("exoswarm.cert.sig", "Queen signature")
f.sig = ProtoField.bytes("exoswarm.sig", "Author signature")
f.mac = ProtoField.bytes("exoswarm.mac", "MAC")
-- payload fields
f.role = ProtoField.uint8("exoswarm.hello.role", "Role", base.DEC, roles)
f.period = ProtoField.uint16("exoswarm.hello.period_ms", "Period (ms)")
f.digest = ProtoField.uint64("exoswarm.state_digest", "Store digest", base.HEX)
f.ihave = ProtoField.uint64("exoswarm.hello.ihave", "Cached id", base.HEX)
f.nbr_listed = ProtoField.uint8("exoswarm.hello.nbrs_listed", "Neighbours listed")
f.nbr_total = ProtoField.uint8("exoswarm.hello.nbrs_total", "Neighbours total")
f.nbr = ProtoField.uint32("exoswarm.hello.nbr", "Neighbour", base.HEX)
f.target = ProtoField.uint32("exoswarm.target", "Target", base.HEX)
f.nonce = ProtoField.uint32("exoswarm.nonce", "Nonce", base.HEX)
f.reply_to = ProtoField.uint32("exoswarm.reply_to", "Reply to", base.HEX)
f.responder = ProtoField.uint32("exoswarm.pull.responder", "Responder", base.HEX)
f.want = ProtoField.uint64("exoswarm.pull.id", "Wanted id", base.HEX)
f.inc_heard = ProtoField.uint32("exoswarm.incarnation_heard", "Incarnation heard", base.HEX)
f.reason = ProtoField.uint8("exoswarm.reason", "Reason")
f.new_inc = ProtoField.uint32("exoswarm.rebirth.incarnation", "New incarnation")
f.cmd = ProtoField.uint16("exoswarm.cmd", "Command", base.DEC, queen_cmds)
f.arg_len = ProtoField.uint16("exoswarm.cmd.arg_len", "Argument length")
f.args = ProtoField.bytes("exoswarm.cmd.args", "Arguments")
f.queen_sig = ProtoField.bytes("exoswarm.queen_sig", "Queen signature")
f.module = ProtoField.uint8("exoswarm.module", "Module id")
f.kv_flags = ProtoField.uint8("exoswarm.state.flags", "Flags", base.HEX)
f.kv_count = ProtoField.uint8("exoswarm.state.count", "Entries")
f.kv_key = ProtoField.uint16("exoswarm.state.key", "Key")
f.kv_stamp = ProtoField.uint64("exoswarm.state.stamp", "Stamp (ms)")
f.kv_writer = ProtoField.uint32("exoswarm.state.writer", "Writer", base.HEX)
f.kv_len = ProtoField.uint8("exoswarm.state.len", "Length")
f.kv_tomb = ProtoField.bool("exoswarm.state.tombstone", "Tombstone")
f.kv_value = ProtoField.bytes("exoswarm.state.value", "Value")
f.kv_sig = ProtoField.bytes("exoswarm.state.sig", "Writer signature")
f.kv_ncert = ProtoField.uint8("exoswarm.state.certs", "Certificates")
f.kv_nfloor = ProtoField.uint8("exoswarm.state.floors", "Floors")
f.kv_floor = ProtoField.uint64("exoswarm.state.floor", "Floor")
f.data = ProtoField.bytes("exoswarm.data", "Data")

local ef_bad = ProtoExpert.new("exoswarm.malformed", "Malformed ExoSwarm payload",
			       expert.group.MALFORMED, expert.severity.ERROR)
ph.experts = { ef_bad }

-- A certificate subtree.
local function add_cert(tree, tvb)
	local t = tree:add(f.cert, tvb)
	t:add(f.cert_version, tvb(0, 1))
	t:add(f.cert_roles, tvb(1, 1))
	t:add(f.cert_id, tvb(4, 4))
	t:add(f.cert_expiry, tvb(8, 8))
	t:add(f.cert_pk, tvb(16, 32))
	t:add(f.cert_sig, tvb(48, 64))
end

-- Flag a payload whose layout is wrong; returns false.
local function bad(tree, tvb, what)
	tree:add_proto_expert_info(ef_bad, what)
	return false
end

local function hello(t, p, n)
	if n < 12 then return bad(t, p, "HELLO shorter than 12 bytes") end
	t:add(f.role, p(0, 1))
	local k = p(1, 1):uint()
	t:add(f.period, p(2, 2))
	t:add(f.digest, p(4, 8))
	if k > 16 or n < 12 + 8 * k + 2 then return bad(t, p, "HELLO id list") end
	for i = 0, k - 1 do t:add(f.ihave, p(12 + 8 * i, 8)) end
	local o = 12 + 8 * k
	local m = p(o, 1):uint()
	t:add(f.nbr_listed, p(o, 1))
	t:add(f.nbr_total, p(o + 1, 1))
	if n ~= o + 2 + 4 * m then return bad(t, p, "HELLO neighbour list") end
	for i = 0, m - 1 do t:add(f.nbr, p(o + 2 + 4 * i, 4)) end
	return true
end

local function state(t, p, n)
	if n < 12 then return bad(t, p, "STATE shorter than 12 bytes") end
	t:add(f.kv_flags, p(0, 1))
	t:add(f.digest, p(1, 8))
	local count = p(9, 1):uint()
	t:add(f.kv_count, p(9, 1))
	local o = 10
	for _ = 1, count do
		if o + KV_ENTRY_HEADER > n then return bad(t, p, "STATE entry header") end
		local lb = p(o + 14, 1):uint()
		local len = lb % 128
		if len > 24 or (lb >= 128 and len ~= 0) or o + KV_ENTRY_HEADER + len + SIG_BYTES > n then
			return bad(t, p, "STATE entry length")
		end
		local e = t:add(p(o, KV_ENTRY_HEADER + len + SIG_BYTES), "Entry")
		e:add(f.kv_key, p(o, 2))
		e:add(f.kv_stamp, p(o + 2, 8))
		e:add(f.kv_writer, p(o + 10, 4))
		e:add(f.kv_len, p(o + 14, 1), len)
		e:add(f.kv_tomb, p(o + 14, 1), lb >= 128)
		if len > 0 then e:add(f.kv_value, p(o + KV_ENTRY_HEADER, len)) end
		e:add(f.kv_sig, p(o + KV_ENTRY_HEADER + len, SIG_BYTES))
		o = o + KV_ENTRY_HEADER + len + SIG_BYTES
	end
	if o >= n then return bad(t, p, "STATE certificate count") end
	local nc = p(o, 1):uint()
	t:add(f.kv_ncert, p(o, 1))
	o = o + 1
	if o + nc * CERT_BYTES >= n then return bad(t, p, "STATE certificates") end
	for _ = 1, nc do
		add_cert(t, p(o, CERT_BYTES))
		o = o + CERT_BYTES
	end
	local nf = p(o, 1):uint()
	t:add(f.kv_nfloor, p(o, 1))
	o = o + 1
	if o + 10 * nf ~= n then return bad(t, p, "STATE floors") end
	for _ = 1, nf do
		local fl = t:add(p(o, 10), "Floor")
		fl:add(f.kv_key, p(o, 2))
		fl:add(f.kv_floor, p(o + 2, 8))
		o = o + 10
	end
	return true
end

-- A payload of one fixed length: a list of {field, offset, size}.
local function fixed(name, len, parts)
	return function(t, p, n)
		if n ~= len then return bad(t, p, name .. " length") end
		for _, x in ipairs(parts) do t:add(x[1], p(x[2], x[3])) end
		return true
	end
end

-- Payload layouts by type; each returns false (and flags it) when wrong.
local payloads = {
	[1] = hello,
	[2] = function(t, p, n) if n > 0 then t:add(f.data, p(0, n)) end return true end,
	[3] = function(t, p, n) if n > 0 then t:add(f.data, p(0, n)) end return true end,
	[4] = function(t, p, n)
		if n < 4 + SIG_BYTES or p(2, 2):uint() ~= n - 4 - SIG_BYTES then
			return bad(t, p, "QUEEN_CMD layout")
		end
		t:add(f.cmd, p(0, 2))
		t:add(f.arg_len, p(2, 2))
		if n > 4 + SIG_BYTES then t:add(f.args, p(4, n - 4 - SIG_BYTES)) end
		t:add(f.queen_sig, p(n - SIG_BYTES, SIG_BYTES))
		return true
	end,
	[5] = fixed("REBIRTH", 5, { { f.reason, 0, 1 }, { f.new_inc, 1, 4 } }),
	[6] = fixed("DIE", 5 + SIG_BYTES, { { f.target, 0, 4 }, { f.reason, 4, 1 },
					    { f.queen_sig, 5, SIG_BYTES } }),
	[7] = state,
	[8] = function(t, p, n)
		if n < 1 then return bad(t, p, "MODULE without module id") end
		t:add(f.module, p(0, 1))
		if n > 1 then t:add(f.data, p(1, n - 1)) end
		return true
	end,
	[12] = function(t, p, n)
		if n < 13 or p(4, 1):uint() > 16 or n ~= 5 + 8 * p(4, 1):uint() then
			return bad(t, p, "PULL layout")
		end
		t:add(f.responder, p(0, 4))
		for i = 0, p(4, 1):uint() - 1 do t:add(f.want, p(5 + 8 * i, 8)) end
		return true
	end,
	[13] = fixed("SUSPECT", 8, { { f.target, 0, 4 }, { f.inc_heard, 4, 4 } }),
	[14] = fixed("ALIVE", 4, { { f.inc_heard, 0, 4 } }),
	[9] = fixed("PING", 12, { { f.target, 0, 4 }, { f.nonce, 4, 4 }, { f.reply_to, 8, 4 } }),
	[10] = fixed("ACK", 12, { { f.target, 0, 4 }, { f.nonce, 4, 4 }, { f.reply_to, 8, 4 } }),
	[11] = fixed("PING_REQ", 8, { { f.target, 0, 4 }, { f.nonce, 4, 4 } }),
}

-- Trailer bytes of a pheromone with these flags: a HELLO may leave the certificate out.
local function ph_trailer(flags)
	if math.floor(flags / 2) % 2 == 1 then return PH_TRAILER - CERT_BYTES end
	return PH_TRAILER
end

-- True when tvb holds a whole pheromone of this version.
local function is_pheromone(tvb)
	local n = tvb:len()
	if n < PH_HEADER + PH_TRAILER - CERT_BYTES or tvb(0, 1):uint() ~= PHEROMONE_VERSION then
		return false
	end
	local ty, fl = tvb(1, 1):uint(), tvb(22, 1):uint()
	if fl > 7 or (ty ~= 1 and fl > 1) then return false end
	return ty >= 1 and ty <= 14 and PH_HEADER + tvb(20, 2):uint() + ph_trailer(fl) == n
end

local function dissect_pheromone(tvb, pinfo, root)
	local n = tvb:len()
	local ty = tvb(1, 1):uint()
	local plen = tvb(20, 2):uint()
	local t = root:add(ph, tvb(0, n))
	pinfo.cols.protocol = "ExoSwarm"
	t:add(f.version, tvb(0, 1))
	t:add(f.type, tvb(1, 1))
	t:add(f.ttl, tvb(2, 1))
	t:add(f.hops, tvb(3, 1))
	t:add(f.sender, tvb(4, 4))
	local seq = t:add(f.seq, tvb(8, 4))
	seq:add(f.incarnation, tvb(8, 4), math.floor(tvb(8, 4):uint() / 1048576))
	seq:add(f.counter, tvb(8, 4), tvb(8, 4):uint() % 1048576)
	t:add(f.timestamp, tvb(12, 8))
	t:add(f.payload_len, tvb(20, 2))
	local fl = t:add(f.flags, tvb(22, 1))
	fl:add(f.signed, tvb(22, 1))
	fl:add(f.no_cert, tvb(22, 1))
	fl:add(f.cert_wanted, tvb(22, 1))
	t:add(f.reserved, tvb(23, 1))
	if plen > 0 then
		local pt = t:add(f.payload, tvb(PH_HEADER, plen))
		pt:set_text(string.format("Payload (%s, %d bytes)", ph_types[ty], plen))
		payloads[ty](pt, tvb(PH_HEADER, plen):tvb(), plen)
	elseif payloads[ty] ~= payloads[2] and payloads[ty] ~= payloads[3] then
		bad(t, tvb(20, 2), "empty payload")
	end
	local o = PH_HEADER + plen
	if ph_trailer(tvb(22, 1):uint()) == PH_TRAILER then
		add_cert(t, tvb(o, CERT_BYTES))
		o = o + CERT_BYTES
	end
	t:add(f.sig, tvb(o, SIG_BYTES))
	t:add(f.mac, tvb(n - MAC_BYTES, MAC_BYTES))
	pinfo.cols.info = string.format("%s from %08x seq %u ttl %d hops %d", ph_types[ty],
					tvb(4, 4):uint(), tvb(8, 4):uint(), tvb(2, 1):uint(),
					tvb(3, 1):uint())
	return n
end

-- ----------------------------------------------------- swarm-hub envelope
local hub = Proto("exoswarm_hub", "ExoSwarm hub envelope")
hub.fields.addr = ProtoField.ipv4("exoswarm_hub.addr", "Address")
hub.fields.port = ProtoField.uint16("exoswarm_hub.port", "Port")

local function is_hub(tvb)
	return tvb:len() >= 10 + PH_HEADER + PH_TRAILER and tvb(0, 2):string() == "XH" and
	       tvb(2, 1):uint() == 1 and tvb(3, 1):uint() == 1 and is_pheromone(tvb(10):tvb())
end

local function dissect_hub(tvb, pinfo, root)
	local t = root:add(hub, tvb(0, 10))
	t:add(hub.fields.addr, tvb(4, 4))
	t:add(hub.fields.port, tvb(8, 2))
	return 10 + dissect_pheromone(tvb(10):tvb(), pinfo, root)
end

-- ------------------------------------------------------------------ NERT
local nert = Proto("nert", "NERT (ExoSwarm transport)")
local nf = nert.fields
nf.version = ProtoField.uint8("nert.version", "Version")
nf.type = ProtoField.uint8("nert.type", "Type", base.DEC, nert_types)
nf.epoch = ProtoField.uint16("nert.epoch", "Key generation")
nf.sid = ProtoField.uint32("nert.sid", "Receiver session id", base.HEX)
nf.pn = ProtoField.uint32("nert.pn", "Packet number")
nf.ephemeral = ProtoField.bytes("nert.ephemeral", "Ephemeral public key")
nf.static_enc = ProtoField.bytes("nert.static_sealed", "Sealed static key")
nf.ts_enc = ProtoField.bytes("nert.init_sealed", "Sealed salt, timestamp, rekey sid")
nf.mac1 = ProtoField.bytes("nert.mac1", "mac1")
nf.mac2 = ProtoField.bytes("nert.mac2", "mac2")
nf.resp_enc = ProtoField.bytes("nert.resp_sealed", "Sealed responder sid, salt, flags")
nf.cookie_nonce = ProtoField.bytes("nert.cookie_nonce", "Nonce")
nf.cookie_enc = ProtoField.bytes("nert.cookie_sealed", "Sealed cookie")
nf.ciphertext = ProtoField.bytes("nert.ciphertext", "Encrypted frame")
nf.tag = ProtoField.bytes("nert.tag", "Tag")

local NERT_SIZES = { [1] = 156, [2] = 69, [4] = 68 }

local function is_nert(tvb)
	local n = tvb:len()
	if n < 12 or tvb(0, 1):uint() ~= NERT_VERSION then return false end
	local ty = tvb(1, 1):uint()
	if ty == 3 then return n >= 12 + 16 + 1 end
	return NERT_SIZES[ty] == n
end

local function dissect_nert(tvb, pinfo, root)
	local n = tvb:len()
	local ty = tvb(1, 1):uint()
	local t = root:add(nert, tvb(0, n))
	pinfo.cols.protocol = "NERT"
	t:add(nf.version, tvb(0, 1))
	t:add(nf.type, tvb(1, 1))
	t:add(nf.epoch, tvb(2, 2))
	t:add(nf.sid, tvb(4, 4))
	t:add(nf.pn, tvb(8, 4))
	if ty == 1 then
		t:add(nf.ephemeral, tvb(12, 32))
		t:add(nf.static_enc, tvb(44, 48))
		t:add(nf.ts_enc, tvb(92, 32))
		t:add(nf.mac1, tvb(124, 16))
		t:add(nf.mac2, tvb(140, 16))
	elseif ty == 2 then
		t:add(nf.ephemeral, tvb(12, 32))
		t:add(nf.resp_enc, tvb(44, 25))
	elseif ty == 4 then
		t:add(nf.cookie_nonce, tvb(12, 24))
		t:add(nf.cookie_enc, tvb(36, 32))
	else
		t:add(nf.ciphertext, tvb(12, n - 28))
		t:add(nf.tag, tvb(n - 16, 16))
	end
	pinfo.cols.info = string.format("%s sid %08x pn %u epoch %u", nert_types[ty],
					tvb(4, 4):uint(), tvb(8, 4):uint(), tvb(2, 2):uint())
	return n
end

-- --------------------------------------------------------------- entry
local function heuristic(tvb, pinfo, root)
	if is_pheromone(tvb) then dissect_pheromone(tvb, pinfo, root) return true end
	if is_hub(tvb) then dissect_hub(tvb, pinfo, root) return true end
	if is_nert(tvb) then dissect_nert(tvb, pinfo, root) return true end
	return false
end
ph:register_heuristic("udp", heuristic)
