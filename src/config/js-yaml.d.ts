/**
 * The part of js-yaml's API that fast-yaml.ts uses (the package ships no types of its own, and
 * this is less to keep than a dependency on @types/js-yaml).
 */
declare module 'js-yaml' {
  interface TypeOptions {
    kind: 'scalar' | 'sequence' | 'mapping';
    resolve?: (data: string) => boolean;
    construct?: (data: string) => unknown;
  }
  class Type {
    constructor(tag: string, options: TypeOptions);
  }
  class Schema {
    extend(types: { implicit?: Type[]; explicit?: Type[] }): Schema;
  }
  interface ListenerState {
    readonly position: number;
    readonly kind: string | null;
    readonly result: unknown;
  }
  interface LoadOptions {
    schema?: Schema;
    listener?: (event: 'open' | 'close', state: ListenerState) => void;
  }
  const jsYaml: {
    Type: typeof Type;
    FAILSAFE_SCHEMA: Schema;
    types: { null: Type; bool: Type; merge: Type };
    load(text: string, options?: LoadOptions): unknown;
  };
  export default jsYaml;
}
