DROP TABLE mcp_credentials;
