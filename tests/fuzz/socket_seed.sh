#!/bin/sh
# A seed for tests/fuzz/fuzz_socket.c (its encoding: one byte the call,
# then its arguments): TCP and UDP over the loopback.
#   listening socket 0 on 127.0.0.1:7000; socket 1 connects; 2 accepted;
#   1 sends 32 bytes, 2 receives; UDP socket 3 sends itself a datagram and
#   receives it; sendmsg and recvmsg through the seeded message header;
#   then 1, 2 and 3 close.
printf '\000\001\001\000\000'	# socket(AF_INET, SOCK_STREAM) = 0
printf '\001\001\000\020'	# bind(0, 127.0.0.1:7000, 16)
printf '\002\001\000\010'	# listen(0, 8)
printf '\000\001\001\000\000'	# socket = 1
printf '\004\002\000\020'	# connect(1, 127.0.0.1:7000, 16)
printf '\003\001\017\007\000'	# accept4(0, spare, &16, 0) = 2
printf '\005\002\020\040\000\322\000'	# sendto(1, buf, 32, 0, NULL, 0)
printf '\006\003\017\077\000\322\322'	# recvfrom(2, spare, 63, 0, NULL, NULL)
printf '\000\001\002\000\000'	# socket(AF_INET, SOCK_DGRAM) = 3
printf '\001\004\000\020'	# bind(3, 127.0.0.1:7000, 16)
printf '\005\004\020\040\000\000\020'	# sendto(3, buf, 32, 0, 127.0.0.1:7000, 16)
printf '\006\004\017\077\000\322\322'	# recvfrom(3, ...)
printf '\007\002\015\000'	# sendmsg(1, msg, 0)
printf '\010\003\015\000'	# recvmsg(2, msg, 0)
printf '\024\002\024\003\024\004'	# close 1, 2, 3
