import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from "kysely";

/**
 * Notes whether a statement that may write went through the transaction view
 * it is plugged into. Only a plain SELECT built with Kysely counts as a read:
 * raw SQL and a SELECT with a WITH clause (which may hold an INSERT) count as
 * writes, so the tracker errs towards "wrote".
 */
export class WriteTracker implements KyselyPlugin {
  wrote = false;

  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    if (node.kind !== "SelectQueryNode" || node.with !== undefined) this.wrote = true;
    return node;
  }

  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return result;
  }
}
