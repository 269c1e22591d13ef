// oidc-provider ships no type declarations; the test kit uses a small part of it.
declare module "oidc-provider";
