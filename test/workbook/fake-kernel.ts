// A kernel that answers execute requests with output and an execute_reply but
// never publishes the idle status that should follow: what tslab 1.0.22 did
// when its iopub sends failed. Started by chatty.test.ts as
// `node --import tsx fake-kernel.ts CONNECTION_FILE`.
import * as fs from 'node:fs';
import * as zmq from 'zeromq';
import { decode, encode, makeMessage, type Message } from '../../scripts/workbook/protocol';

const connection = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const address = (port: number) => `tcp://${connection.ip}:${port}`;
const shell = new zmq.Router();
const iopub = new zmq.Publisher();

function answer(parent: Message, msgType: string, content: unknown): Message<unknown> {
  const msg = makeMessage(parent.header.session, msgType, content);
  return { ...msg, parent_header: parent.header };
}

async function main(): Promise<void> {
  await shell.bind(address(connection.shell_port));
  await iopub.bind(address(connection.iopub_port));
  for await (const [identity, ...frames] of shell) {
    const request = decode(connection.key, frames);
    const publish = (msgType: string, content: unknown) => iopub.send(encode(connection.key, answer(request, msgType, content)));
    await publish('status', { execution_state: 'busy' });
    if (request.header.msg_type === 'kernel_info_request') {
      await shell.send([identity, ...encode(connection.key, answer(request, 'kernel_info_reply', { status: 'ok', protocol_version: '5.3' }))]);
      await publish('status', { execution_state: 'idle' });
    } else if (request.header.msg_type === 'execute_request') {
      await publish('stream', { name: 'stdout', text: 'output before the reply\n' });
      await shell.send([identity, ...encode(connection.key, answer(request, 'execute_reply', { status: 'ok', execution_count: 1 }))]);
      // No idle status.
    }
  }
}

void main();
