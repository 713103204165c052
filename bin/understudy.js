#!/usr/bin/env -S node --max-semi-space-size=1 --heap-growing-percent=50 --single-threaded-gc
import '../dist/src/cli/main.js';
