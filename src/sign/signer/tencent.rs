//! Request shapes of the Tencent SDKs (tencent.md §2.5, §3): TC3 headers, v1 parameters.
use super::{
    absent_header, base_request, push_header, signed_header_list, Intermediates, SignInput, FORM,
    JSON,
};
use crate::http::RawRequest;
use crate::sign::clock;
use crate::sign::credentials::Credentials;
use crate::sign::encoding::encode_pairs;
use crate::sign::error::SignError;
use crate::sign::tc3::{self, HeaderReading};
use crate::sign::tencent_v1::{self, V1Method};

pub(super) fn sign_tc3(
    input: &SignInput,
    credentials: &Credentials,
) -> Result<(RawRequest, Intermediates), SignError> {
    let mut request = base_request(input);
    let content_type = if input.method == "GET" {
        request.raw_query = encode_pairs(&input.params);
        FORM.to_string()
    } else {
        request.body = match &input.body {
            Some(_) if !input.params.is_empty() => {
                return Err(SignError::InvalidInput(
                    "TC3 POST takes `body` or `params`, not both".into(),
                ))
            }
            Some(body) => body.clone(),
            None => {
                let object: serde_json::Map<String, serde_json::Value> = input
                    .params
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect();
                serde_json::Value::Object(object).to_string().into_bytes()
            }
        };
        input
            .content_type
            .clone()
            .unwrap_or_else(|| JSON.to_string())
    };
    let timestamp = input.timestamp.to_string();
    push_header(&mut request, "Host", &input.host);
    push_header(&mut request, "Content-Type", content_type);
    push_header(&mut request, "X-TC-Action", &input.action);
    push_header(&mut request, "X-TC-Timestamp", &timestamp);
    push_header(&mut request, "X-TC-Version", &input.version);
    if let Some(region) = &input.region {
        push_header(&mut request, "X-TC-Region", region);
    }
    if let Some(token) = &credentials.session_token {
        push_header(&mut request, "X-TC-Token", token.expose().to_string());
    }
    if input.unsigned_payload {
        push_header(&mut request, "X-TC-Content-SHA256", tc3::UNSIGNED_PAYLOAD);
    }
    request.headers.extend(input.headers.iter().cloned());

    let signed_headers = signed_header_list(
        tc3::REQUIRED_SIGNED_HEADERS
            .iter()
            .map(|s| s.to_string())
            .chain(input.extra_signed_headers.iter().cloned()),
    );
    let date =
        clock::utc_date(input.timestamp).ok_or(SignError::TimestampOutOfRange(input.timestamp))?;
    let service = input
        .service
        .clone()
        .unwrap_or_else(|| input.host.split('.').next().unwrap_or_default().to_string());
    let canonical = tc3::canonicalize(
        &request,
        &signed_headers,
        HeaderReading::DOC,
        &timestamp,
        &date,
        &service,
    )
    .map_err(absent_header)?;
    let signature = tc3::sign_canonical(canonical, &credentials.secret);
    push_header(
        &mut request,
        "Authorization",
        tc3::authorization(&credentials.access_key_id, &signature, &signed_headers),
    );
    Ok((request, Intermediates::Tc3(signature)))
}

pub(super) fn sign_tencent_v1(
    input: &SignInput,
    credentials: &Credentials,
    method: V1Method,
) -> Result<(RawRequest, Intermediates), SignError> {
    let mut params = input.params.clone();
    params.push(("Action".into(), input.action.clone()));
    params.push(("Version".into(), input.version.clone()));
    if let Some(region) = &input.region {
        params.push(("Region".into(), region.clone()));
    }
    params.push(("Timestamp".into(), input.timestamp.to_string()));
    params.push(("Nonce".into(), input.nonce.clone()));
    params.push(("SecretId".into(), credentials.access_key_id.clone()));
    params.push(("SignatureMethod".into(), method.wire_name().into()));
    if let Some(token) = &credentials.session_token {
        params.push(("Token".into(), token.expose().to_string()));
    }
    let decoded: Vec<(Vec<u8>, Vec<u8>)> = params
        .iter()
        .map(|(k, v)| (k.clone().into_bytes(), v.clone().into_bytes()))
        .collect();
    let string_to_sign =
        tencent_v1::string_to_sign(&input.method, &input.host, &input.path, &decoded)
            .ok_or_else(|| SignError::InvalidInput("parameters are not UTF-8".into()))?;
    let signature = tencent_v1::sign_string(method, &credentials.secret, string_to_sign);
    params.push((
        tencent_v1::SIGNATURE_PARAM.into(),
        signature.signature.clone(),
    ));

    let mut request = base_request(input);
    let encoded = encode_pairs(&params);
    if input.method == "GET" {
        request.raw_query = encoded;
    } else {
        request.body = encoded.into_bytes();
    }
    push_header(&mut request, "Host", &input.host);
    push_header(&mut request, "Content-Type", FORM);
    request.headers.extend(input.headers.iter().cloned());
    Ok((request, Intermediates::TencentV1(signature)))
}
