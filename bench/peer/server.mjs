// panva's oidc-provider configured like the dexpy the bench runs: RS256 (RSA-2048), the default in-memory
// adapter, one confidential client, refresh tokens that do not rotate, JWT access tokens (as dexpy's).
//   node server.mjs <port>
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const RESOURCE = 'urn:bench:api';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: 'bench' };

const client = (clientId, secret) => ({
  client_id: clientId,
  client_secret: secret,
  redirect_uris: ['http://127.0.0.1:5555/callback'],
  grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
});

const provider = new Provider(issuer, {
  // `bench` gets JWT access tokens (one RS256 signature each, as dexpy's); `bench-opaque` gets the opaque
  // tokens oidc-provider's /userinfo accepts.
  clients: [client('bench', 'bench-secret'), client('bench-opaque', 'bench-secret')],
  jwks: { keys: [jwk] },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  claims: { email: ['email', 'email_verified'], profile: ['name', 'preferred_username'], groups: ['groups'] },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({
      sub: id, email: 'kilgore@kilgore.trout', email_verified: true, name: 'Kilgore Trout', groups: ['authors'],
    }),
  }),
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, c) => (c.clientId === 'bench' ? RESOURCE : undefined),
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'openid email profile groups', audience: 'bench', accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  rotateRefreshToken: false,
  pkce: { required: () => true },
});
provider.proxy = false;
provider.listen(port, '127.0.0.1');
