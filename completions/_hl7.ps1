
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'hl7' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'hl7'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'hl7' {
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show a progress bar on stderr even when stderr is not a terminal')
            [CompletionResult]::new('--stats', '--stats', [CompletionResultType]::ParameterName, 'Print counters to stderr every second and at the end')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('listen', 'listen', [CompletionResultType]::ParameterValue, 'Receive HL7 over MLLP, ACK each message, write them to stdout')
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Send HL7 messages over MLLP and check each ACK')
            [CompletionResult]::new('simulate', 'simulate', [CompletionResultType]::ParameterValue, 'Generate realistic, seeded HL7 traffic')
            [CompletionResult]::new('parse', 'parse', [CompletionResultType]::ParameterValue, 'Parse HL7 into NDJSON, CSV, a table or normalized HL7 (and NDJSON back into HL7)')
            [CompletionResult]::new('ack', 'ack', [CompletionResultType]::ParameterValue, 'Build one ACK (or NAK) for each input message')
            [CompletionResult]::new('convert', 'convert', [CompletionResultType]::ParameterValue, 'Rewrite messages through a template: HL7 to HL7, HL7 to JSON, JSON to HL7, any text')
            [CompletionResult]::new('flatten', 'flatten', [CompletionResultType]::ParameterValue, 'Turn OBX observations into flat rows (NDJSON or CSV)')
            [CompletionResult]::new('ilp', 'ilp', [CompletionResultType]::ParameterValue, 'Write rows (NDJSON or CSV) to QuestDB over InfluxDB Line Protocol')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script (or write all of them with --dir)')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write the man pages (hl7.1 and hl7-<command>.1) into DIR, or print hl7.1')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'hl7;listen' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Output: hl7 (segments joined by \r, a \n after each message), ndjson, or mllp (framed)')
            [CompletionResult]::new('--ack-after', '--ack-after', [CompletionResultType]::ParameterName, 'When to send AA: once written (and fsynced where it is a file or the archive), or once `hl7 ilp` at the end of the pipeline reports the message''s rows committed')
            [CompletionResult]::new('--receipts', '--receipts', [CompletionResultType]::ParameterName, 'With --ack-after delivered: the loopback address where `hl7 ilp` sends receipts (the marks name it, so ilp needs no flag) [default: 127.0.0.1:0, a free port]')
            [CompletionResult]::new('--channel', '--channel', [CompletionResultType]::ParameterName, 'Name a channel: NAME=ADDR')
            [CompletionResult]::new('--archive', '--archive', [CompletionResultType]::ParameterName, 'Append each message durably (fsync) to files under DIR before it is ACKed')
            [CompletionResult]::new('--archive-layout', '--archive-layout', [CompletionResultType]::ParameterName, 'Archive file layout: strftime and field paths')
            [CompletionResult]::new('--ack-mode', '--ack-mode', [CompletionResultType]::ParameterName, 'ACK mode: auto honours MSH-15/MSH-16; original (AA/AE/AR); enhanced (CA/CE/CR); none')
            [CompletionResult]::new('--app', '--app', [CompletionResultType]::ParameterName, 'MSH-3 of the ACKs sent')
            [CompletionResult]::new('--facility', '--facility', [CompletionResultType]::ParameterName, 'MSH-4 of the ACKs sent')
            [CompletionResult]::new('--max-message-size', '--max-message-size', [CompletionResultType]::ParameterName, 'Frames larger than this get a NAK and are discarded')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Close connections idle this long (seconds)')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'Most connections served at once')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Accept connections only from these networks')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Exit 0 after N messages have been received, written and ACKed')
            [CompletionResult]::new('--tls-cert', '--tls-cert', [CompletionResultType]::ParameterName, 'MLLP over TLS: certificate chain (PEM)')
            [CompletionResult]::new('--tls-key', '--tls-key', [CompletionResultType]::ParameterName, 'MLLP over TLS: private key (PEM)')
            [CompletionResult]::new('--tls-client-ca', '--tls-client-ca', [CompletionResultType]::ParameterName, 'Mutual TLS: accept only clients with a certificate signed by this CA (PEM)')
            [CompletionResult]::new('--meta', '--meta', [CompletionResultType]::ParameterName, 'With --to ndjson: add received time, peer, channel, control id and ACK code, and the raw message')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show a progress bar on stderr even when stderr is not a terminal')
            [CompletionResult]::new('--stats', '--stats', [CompletionResultType]::ParameterName, 'Print counters to stderr every second and at the end')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'hl7;send' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Results: ndjson ({"n","control_id","ack","latency_ms","error"}), hl7 (the ACKs), none')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each ACK (and for each connection to open)')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries per message, with backoff (0.5 s, doubling, at most 30 s)')
            [CompletionResult]::new('--rate', '--rate', [CompletionResultType]::ParameterName, 'Pace sending: N messages per second (N/s; also N/min, N/h)')
            [CompletionResult]::new('--speed', '--speed', [CompletionResultType]::ParameterName, 'With --replay: play faster (2) or slower (0.5)')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Stop after N messages (with --loop: N in all)')
            [CompletionResult]::new('--connections', '--connections', [CompletionResultType]::ParameterName, 'Parallel connections (messages dealt round-robin; order is kept per connection)')
            [CompletionResult]::new('--window', '--window', [CompletionResultType]::ParameterName, 'Messages in flight per connection (1-4096): write up to N ahead while their ACKs are outstanding, each ACK matched to its message by MSA-2 whatever order they come in. Results stay in input order. 1 (the default) waits for each ACK before the next message')
            [CompletionResult]::new('--ca', '--ca', [CompletionResultType]::ParameterName, 'With --tls: the CA certificates to trust (PEM), instead of the system''s store')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'With --tls: client certificate chain (PEM), for mutual TLS')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'With --tls: the client certificate''s private key (PEM)')
            [CompletionResult]::new('--tls-server-name', '--tls-server-name', [CompletionResultType]::ParameterName, 'With --tls: the name the server''s certificate must bear (default: the host of ADDR)')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Input format, instead of detecting it')
            [CompletionResult]::new('--pass', '--pass', [CompletionResultType]::ParameterName, 'Write each accepted message to stdout instead of a result, so send can sit mid-pipeline like tee')
            [CompletionResult]::new('--retry-rejected', '--retry-rejected', [CompletionResultType]::ParameterName, 'Retry AR/CR rejections too (AE/CE are never retried: the data must be fixed)')
            [CompletionResult]::new('--replay', '--replay', [CompletionResultType]::ParameterName, 'Pace by the original gaps (listen --meta received times, else MSH-7)')
            [CompletionResult]::new('--loop', '--loop', [CompletionResultType]::ParameterName, 'Repeat the input (needs --rate, --replay or --count)')
            [CompletionResult]::new('--connection-per-message', '--connection-per-message', [CompletionResultType]::ParameterName, 'Open a fresh connection for each message and close it after the ACK')
            [CompletionResult]::new('--no-ack', '--no-ack', [CompletionResultType]::ParameterName, 'Fire and forget: do not wait for ACKs')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Stop at the first invalid input message (exit 1)')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'MLLP over TLS')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show a progress bar on stderr even when stderr is not a terminal')
            [CompletionResult]::new('--stats', '--stats', [CompletionResultType]::ParameterName, 'Print counters to stderr every second and at the end')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'hl7;simulate' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Traffic profile')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Number of messages (default 100, or unlimited with --rate)')
            [CompletionResult]::new('--rate', '--rate', [CompletionResultType]::ParameterName, 'Pace the output: messages per second (20/s, 0.5/s), per minute (30/min) or per hour (2/h)')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'Random seed: the same seed (and --start) gives the same bytes; default: a fresh one, shown with --stats')
            [CompletionResult]::new('--devices', '--devices', [CompletionResultType]::ParameterName, 'Number of devices, each with its own identity and trend (vent, monitor)')
            [CompletionResult]::new('--patients', '--patients', [CompletionResultType]::ParameterName, 'Size of the patient population')
            [CompletionResult]::new('--start', '--start', [CompletionResultType]::ParameterName, 'Clock of the first message: RFC 3339 (2024-08-14T11:46:36+02:00) or HL7 (20240814114636)')
            [CompletionResult]::new('--attachment-size', '--attachment-size', [CompletionResultType]::ParameterName, 'With --profile mdm: pad each PDF attachment to this size (bytes, or with kB, KiB, MB, MiB)')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'HL7 version to write in MSH-12 (default: the profile''s own)')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Output: hl7 (segments ended by \r, a \n after each message), mllp (framed), ndjson')
            [CompletionResult]::new('--from-file', '--from-file', [CompletionResultType]::ParameterName, 'With --profile cycle: the messages to cycle through (HL7, MLLP capture or NDJSON)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show a progress bar on stderr even when stderr is not a terminal')
            [CompletionResult]::new('--stats', '--stats', [CompletionResultType]::ParameterName, 'Print counters to stderr every second and at the end')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'hl7;parse' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Output format: ndjson (lossless JSON, one message a line), csv, table (for humans), hl7')
            [CompletionResult]::new('--shape', '--shape', [CompletionResultType]::ParameterName, 'NDJSON shape: segments (lossless, ordered) or paths (one flat object of path: value)')
            [CompletionResult]::new('--select', '--select', [CompletionResultType]::ParameterName, 'Only these values, e.g. MSH-10,PID-3.1; one row per message, or per OBX when a path names OBX')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Input format, instead of detecting it from the first bytes')
            [CompletionResult]::new('--dot-style', '--dot-style', [CompletionResultType]::ParameterName, 'How to read a dot path with three numbers such as PID.1.5.1 (refused by default)')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Stop at the first invalid message (exit 1)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show a progress bar on stderr even when stderr is not a terminal')
            [CompletionResult]::new('--stats', '--stats', [CompletionResultType]::ParameterName, 'Print counters to stderr every second and at the end')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'hl7;ack' {
            [CompletionResult]::new('--code', '--code', [CompletionResultType]::ParameterName, 'Acknowledgment code')
            [CompletionResult]::new('--text', '--text', [CompletionResultType]::ParameterName, 'Text for MSA-3 / ERR')
            [CompletionResult]::new('--error-code', '--error-code', [CompletionResultType]::ParameterName, 'Error code for ERR (HL7 table 0357, e.g. 207)')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'original (AA/AE/AR) or enhanced (CA/CE/CR)')
            [CompletionResult]::new('--app', '--app', [CompletionResultType]::ParameterName, 'MSH-3 of the ACKs')
            [CompletionResult]::new('--facility', '--facility', [CompletionResultType]::ParameterName, 'MSH-4 of the ACKs')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Input format, instead of detecting it')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show a progress bar on stderr even when stderr is not a terminal')
            [CompletionResult]::new('--stats', '--stats', [CompletionResultType]::ParameterName, 'Print counters to stderr every second and at the end')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'hl7;convert' {
            [CompletionResult]::new('--template', '--template', [CompletionResultType]::ParameterName, 'Template file (.hl7: HL7 output, .json: JSON output, other: text)')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Without a template: hl7 (NDJSON back to HL7) or ndjson (as hl7 parse)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write each rendering to its own file: strftime (%Y %m %d %H %M %S) and field paths, e.g. ''patients/patient_{PID-3.1}.json''')
            [CompletionResult]::new('--escape', '--escape', [CompletionResultType]::ParameterName, 'How inserted values are escaped (default from the template''s extension: .hl7 hl7, .json json, other none)')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Input format, instead of detecting it')
            [CompletionResult]::new('--append', '--append', [CompletionResultType]::ParameterName, 'With --output: append to the files (one record a line), instead of replacing them')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'A missing value is an error (message number, path), and a rendering with a missing value or a failed filter is not written; the other messages are still converted (exit code 1)')
            [CompletionResult]::new('--legacy-placeholders', '--legacy-placeholders', [CompletionResultType]::ParameterName, 'Also accept the {S-F} index placeholders of the old broker script: segment S (0-based), field F of the segment split by ''|'' (so {0-9} is MSH-10)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show a progress bar on stderr even when stderr is not a terminal')
            [CompletionResult]::new('--stats', '--stats', [CompletionResultType]::ParameterName, 'Print counters to stderr every second and at the end')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'hl7;flatten' {
            [CompletionResult]::new('--map', '--map', [CompletionResultType]::ParameterName, 'The TOML map of variables, bitfields, tags and the table name')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Output format: ndjson (typed JSON, one row a line) or csv (with a header line)')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone of HL7 times without an offset (IANA name such as Europe/Oslo; overrides the map''s timezone; default UTC)')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Input format, instead of detecting it')
            [CompletionResult]::new('--wide', '--wide', [CompletionResultType]::ParameterName, 'One row per message, one column per variable (the shape that suits QuestDB)')
            [CompletionResult]::new('--long', '--long', [CompletionResultType]::ParameterName, 'One row per observation (the default)')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Check the map (and --tz), print its columns with their types and exit')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Stop at the first invalid message or misfit value (exit 1)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show a progress bar on stderr even when stderr is not a terminal')
            [CompletionResult]::new('--stats', '--stats', [CompletionResultType]::ParameterName, 'Print counters to stderr every second and at the end')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'hl7;ilp' {
            [CompletionResult]::new('--input', '--input', [CompletionResultType]::ParameterName, 'Input file (repeat for several); stdin when none or -')
            [CompletionResult]::new('--map', '--map', [CompletionResultType]::ParameterName, 'The flatten map the rows were made with: table, symbols, timestamp, column types and deduplication keys (flags override it)')
            [CompletionResult]::new('--table', '--table', [CompletionResultType]::ParameterName, 'Table name [default: observations]')
            [CompletionResult]::new('--symbols', '--symbols', [CompletionResultType]::ParameterName, 'Columns written as symbols (tags)')
            [CompletionResult]::new('--timestamp', '--timestamp', [CompletionResultType]::ParameterName, 'The designated timestamp column: RFC 3339 text or epoch nanoseconds [default: ts]')
            [CompletionResult]::new('--batch-rows', '--batch-rows', [CompletionResultType]::ParameterName, 'Flush after this many rows (a busy input, always ready, goes out in batches this big; whatever waits is also flushed as soon as the input pauses)')
            [CompletionResult]::new('--batch-ms', '--batch-ms', [CompletionResultType]::ParameterName, 'Flush rows that have waited this many milliseconds, also while the input keeps coming (whatever waits is also flushed as soon as the input pauses)')
            [CompletionResult]::new('--give-up-after', '--give-up-after', [CompletionResultType]::ParameterName, 'Stop when a batch could not be delivered for this many seconds: exit 1, saying how many rows were not delivered and the input line they start at [default: never]')
            [CompletionResult]::new('--receipts', '--receipts', [CompletionResultType]::ParameterName, 'Report committed messages back to `hl7 listen --ack-after delivered`; default: the address the marks name')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Input format (detected by default: a first `{` is NDJSON, else CSV)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Write the ILP text to stdout instead')
            [CompletionResult]::new('--wide', '--wide', [CompletionResultType]::ParameterName, 'With --map: the rows are flatten''s --wide rows (one per message), not its long ones')
            [CompletionResult]::new('--print-ddl', '--print-ddl', [CompletionResultType]::ParameterName, 'Print the QuestDB CREATE TABLE with DEDUP UPSERT KEYS for the table, so replays are idempotent')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show a progress bar on stderr even when stderr is not a terminal')
            [CompletionResult]::new('--stats', '--stats', [CompletionResultType]::ParameterName, 'Print counters to stderr every second and at the end')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'hl7;completions' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Write the scripts for every shell (or the one named) into DIR')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show a progress bar on stderr even when stderr is not a terminal')
            [CompletionResult]::new('--stats', '--stats', [CompletionResultType]::ParameterName, 'Print counters to stderr every second and at the end')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'hl7;man' {
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no warnings (errors are still printed)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show a progress bar on stderr even when stderr is not a terminal')
            [CompletionResult]::new('--stats', '--stats', [CompletionResultType]::ParameterName, 'Print counters to stderr every second and at the end')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'hl7;help' {
            [CompletionResult]::new('listen', 'listen', [CompletionResultType]::ParameterValue, 'Receive HL7 over MLLP, ACK each message, write them to stdout')
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Send HL7 messages over MLLP and check each ACK')
            [CompletionResult]::new('simulate', 'simulate', [CompletionResultType]::ParameterValue, 'Generate realistic, seeded HL7 traffic')
            [CompletionResult]::new('parse', 'parse', [CompletionResultType]::ParameterValue, 'Parse HL7 into NDJSON, CSV, a table or normalized HL7 (and NDJSON back into HL7)')
            [CompletionResult]::new('ack', 'ack', [CompletionResultType]::ParameterValue, 'Build one ACK (or NAK) for each input message')
            [CompletionResult]::new('convert', 'convert', [CompletionResultType]::ParameterValue, 'Rewrite messages through a template: HL7 to HL7, HL7 to JSON, JSON to HL7, any text')
            [CompletionResult]::new('flatten', 'flatten', [CompletionResultType]::ParameterValue, 'Turn OBX observations into flat rows (NDJSON or CSV)')
            [CompletionResult]::new('ilp', 'ilp', [CompletionResultType]::ParameterValue, 'Write rows (NDJSON or CSV) to QuestDB over InfluxDB Line Protocol')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script (or write all of them with --dir)')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write the man pages (hl7.1 and hl7-<command>.1) into DIR, or print hl7.1')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'hl7;help;listen' {
            break
        }
        'hl7;help;send' {
            break
        }
        'hl7;help;simulate' {
            break
        }
        'hl7;help;parse' {
            break
        }
        'hl7;help;ack' {
            break
        }
        'hl7;help;convert' {
            break
        }
        'hl7;help;flatten' {
            break
        }
        'hl7;help;ilp' {
            break
        }
        'hl7;help;completions' {
            break
        }
        'hl7;help;man' {
            break
        }
        'hl7;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
