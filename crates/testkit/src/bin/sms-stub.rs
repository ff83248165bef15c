//! `sms-stub [ADDR]` (default 127.0.0.1:4040): the stand-in SMS provider of `make run`. Codes
//! sent to users are listed at `GET http://ADDR/messages`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:4040".into());
    let stub = testkit::sms::SmsStub::start_on(&addr).await?;
    println!("SMS stub: messages at {}/messages", stub.url);
    std::future::pending::<()>().await;
    Ok(())
}
