// Node entry of the consumer: Dawn through the package's `node` export condition.
import { convCheck } from './conv-check.js';

console.log(`CONV_CHECK ${JSON.stringify(await convCheck())}`);
