// CRC-32C (Castagnoli), the checksum of every tensor-stream header.
#ifndef EDDY_CRC32C_H
#define EDDY_CRC32C_H

#include <stddef.h>
#include <stdint.h>

// Continues crc over n bytes; start with crc = 0.
uint32_t crc32c(uint32_t crc, const void *buf, size_t n);

#endif
