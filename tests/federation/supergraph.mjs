// A supergraph on 127.0.0.1: a tiny "commerce" subgraph (products with a title, customers)
// and a real Apollo Gateway composing it with Patron (PATRON_URL) by IntrospectAndCompose.
// Prints {"gateway": url, "commerce": url} on one line when ready; run by tests/test_federation.py.
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from '@apollo/gateway';
import { parse } from 'graphql';

const commerceSdl = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@override"])
  # The catalog is the commerce platform's: it takes the fields Patron mirrors (Patron's
  # copy comes from upsertProducts) and the root product field over from Patron.
  type Product @key(fields: "externalId") { externalId: String! title: String! @override(from: "patron") }
  # A reference to Patron's Member: points, tier ... come from Patron.
  type Member @key(fields: "externalId", resolvable: false) { externalId: String! }
  type Customer { id: ID! email: String! loyalty: Member }
  type Query {
    product(externalId: String!): Product @override(from: "patron")
    customer(id: ID!): Customer
  }
`);
const titles = { 'prod-1': 'Trail shoe (commerce)' };
const product = (externalId) => (titles[externalId] ? { externalId, title: titles[externalId] } : null);
const commerce = new ApolloServer({
  schema: buildSubgraphSchema({
    typeDefs: commerceSdl,
    resolvers: {
      Query: {
        product: (_, { externalId }) => product(externalId),
        // The commerce platform's customer id is the externalId it gave Patron's member.
        customer: (_, { id }) => ({ id, email: `${id}@shop.example` }),
      },
      Product: { __resolveReference: ({ externalId }) => product(externalId) },
      Customer: { loyalty: ({ id }) => ({ externalId: id }) },
    },
  }),
  plugins: [ApolloServerPluginInlineTraceDisabled()], // stdout is for the ready line
});
const { url: commerceUrl } = await startStandaloneServer(commerce, { listen: { host: '127.0.0.1', port: 0 } });

// The gateway forwards its client's Authorization (Patron decides every permission from it)
// and identifies itself with Patron-Gateway-Secret when one is configured.
class Forwarding extends RemoteGraphQLDataSource {
  willSendRequest({ request, context }) {
    if (context.authorization) request.http.headers.set('authorization', context.authorization);
    if (process.env.PATRON_GATEWAY_SECRET) request.http.headers.set('patron-gateway-secret', process.env.PATRON_GATEWAY_SECRET);
  }
}
const gateway = new ApolloGateway({
  supergraphSdl: new IntrospectAndCompose({
    subgraphs: [{ name: 'patron', url: process.env.PATRON_URL }, { name: 'commerce', url: commerceUrl }],
  }),
  buildService: ({ url }) => new Forwarding({ url }),
});
const server = new ApolloServer({ gateway });
const { url: gatewayUrl } = await startStandaloneServer(server, {
  listen: { host: '127.0.0.1', port: 0 },
  context: async ({ req }) => ({ authorization: req.headers.authorization }),
});
console.log(JSON.stringify({ gateway: gatewayUrl, commerce: commerceUrl }));
