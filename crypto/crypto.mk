# crypto/: the project's crypto API over libsodium (host build), and the
# freestanding ChaCha20 shared with the kernel.
CRYPTO_SRCS := crypto/crypto.c crypto/aegis256.c
PORTABLE_SRCS += $(CRYPTO_SRCS) crypto/chacha20.c
