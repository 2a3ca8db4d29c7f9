//! Request signing and verification for Tencent Cloud and Alibaba Cloud (being built).
