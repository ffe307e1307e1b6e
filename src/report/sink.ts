/**
 * The stream side of every report and export: gathers text into large writes,
 * encodes it in the output charset and waits for 'drain' whenever the destination
 * is full, so a slow reader (a pipe, a network disk) holds the writer back instead
 * of letting memory grow. The bound is one chunk of text plus the stream's buffer.
 */
import iconv from 'iconv-lite';

export const CHUNK_CHARS = 64 * 1024;

const UNICODE = /^UTF-(8|16|16LE|16BE|32|32LE|32BE)$/;

export class TextSink {
  private buf = '';
  private failure: Error | null = null;
  private readonly encoder: { write(s: string): Buffer; end(): Buffer | undefined } | null;
  /** set once text was met that the charset cannot represent (iconv-lite writes a substitute) */
  lossy = false;
  private readonly checkLoss: boolean;
  private readonly onError = (err: Error): void => {
    this.failure ??= err;
  };

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly charset = 'UTF-8',
    private readonly chunkChars = CHUNK_CHARS,
  ) {
    this.encoder = charset === 'UTF-8' ? null : iconv.getEncoder(charset);
    this.checkLoss = !UNICODE.test(charset);
    out.on('error', this.onError);
  }

  /** Buffer `s`; true when the caller should `await flush()` (synchronous: it runs once per row). */
  add(s: string): boolean {
    this.buf += s;
    return this.buf.length >= this.chunkChars;
  }

  async write(s: string): Promise<void> {
    if (this.add(s)) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.failure !== null) throw this.failure;
    if (this.buf === '') return;
    const chunk = this.encode(this.buf);
    this.buf = '';
    if (!this.out.write(chunk)) await this.drained();
    if (this.failure !== null) throw this.failure;
  }

  /** Write what is left and wait until the stream has taken it, so a late failure (EPIPE, a full disk) is not lost. */
  async finish(): Promise<void> {
    if (this.failure !== null) throw this.failure;
    const text = this.buf;
    this.buf = '';
    const head = text === '' ? null : this.encode(text);
    const tail = this.encoder?.end();
    const chunk = head === null ? (tail ?? Buffer.alloc(0)) : tail && tail.length > 0 ? Buffer.concat([toBuffer(head), tail]) : head;
    // Written even when empty: its callback runs once every earlier chunk has been taken.
    await new Promise<void>((resolve, reject) => {
      this.out.write(chunk, (err?: Error | null) => (err ? reject(err) : resolve()));
    });
    if (this.failure !== null) throw this.failure;
  }

  release(): void {
    this.out.removeListener('error', this.onError);
  }

  private encode(text: string): string | Buffer {
    if (this.encoder === null) return text;
    const bytes = this.encoder.write(text);
    if (this.checkLoss && !this.lossy && iconv.decode(bytes, this.charset) !== text) this.lossy = true;
    return bytes;
  }

  private drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error): void => {
        this.out.removeListener('drain', onDrain);
        this.out.removeListener('error', onFail);
        this.out.removeListener('close', onClose);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onDrain = (): void => done();
      const onFail = (err: Error): void => done(err);
      const onClose = (): void => done(this.failure ?? new Error('the output was closed before everything was written'));
      this.out.on('drain', onDrain);
      this.out.on('error', onFail);
      this.out.on('close', onClose);
    });
  }
}

function toBuffer(b: string | Buffer): Buffer {
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
}
