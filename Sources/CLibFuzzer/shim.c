// Nothing to compile: CLibFuzzer only declares libFuzzer's driver (see include/CLibFuzzer.h).
#include "CLibFuzzer.h"
