// SPDX-License-Identifier: Apache-2.0
// `npm run build`: install what is missing, then compile every part (incremental).
import { build } from './lib/setup.mjs';

build();
