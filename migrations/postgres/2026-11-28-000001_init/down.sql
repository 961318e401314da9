DROP TABLE mcp_call_log;
DROP TABLE instances;
DROP TABLE runtime_image_channels;
DROP TABLE runtime_images;
DROP TABLE api_keys;
DROP TABLE tenants;
