# kernel build (filled in below)
iso:
