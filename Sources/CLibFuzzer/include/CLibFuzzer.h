// libFuzzer's driver, for fuzz targets whose `main` is their own (SwiftPM names the
// executable's entry point, so libFuzzer's `main` cannot be used): `iloc-fuzz` built with
// -sanitize=fuzzer calls it from main. Declared only; libclang_rt.fuzzer defines it.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
