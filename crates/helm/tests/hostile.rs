//! Hostile charts: each fails with a clear error, in bounded time and memory.

use std::io::Write;
use std::path::Path;

use driftless_helm::{Error, Options, Values, load, template};

fn chart_dir(templates: &[(&str, &str)], values: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = dir.path().join("c");
    std::fs::create_dir_all(c.join("templates")).expect("mkdir");
    std::fs::write(
        c.join("Chart.yaml"),
        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
    )
    .expect("write");
    std::fs::write(c.join("values.yaml"), values).expect("write");
    for (name, text) in templates {
        std::fs::write(c.join("templates").join(name), text).expect("write");
    }
    dir
}

fn render(dir: &Path) -> Result<String, Error> {
    let chart = load(&dir.join("c"))?;
    template(chart, Values::new(), &Options::default())
}

#[test]
fn an_include_calling_itself_is_a_recursion_error() {
    let dir = chart_dir(
        &[(
            "a.yaml",
            "{{ define \"x\" }}{{ include \"x\" . }}{{ end }}{{ include \"x\" . }}",
        )],
        "",
    );
    let err = render(dir.path()).expect_err("recursion fails");
    assert!(err.to_string().contains("nested reference"), "{err}");
}

#[test]
fn a_huge_range_is_refused_instead_of_run() {
    let dir = chart_dir(&[("a.yaml", "{{ range 100000000000 }}x{{ end }}")], "");
    let err = render(dir.path()).expect_err("huge range fails");
    assert!(err.to_string().contains("iteration limit"), "{err}");
}

#[test]
fn output_beyond_the_cap_is_an_error() {
    let dir = chart_dir(
        &[("a.yaml", "{{ range 9000000 }}xxxxxxxxxxxxxxxxxxxx{{ end }}")],
        "",
    );
    assert!(render(dir.path()).is_err());
}

#[test]
fn deeply_nested_values_are_refused() {
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let dir = chart_dir(&[("a.yaml", "x: 1")], &format!("a: {deep}\n"));
    let err = render(dir.path()).expect_err("deep values fail");
    assert!(err.to_string().contains("values.yaml"), "{err}");
}

#[test]
fn a_file_over_five_mib_names_the_file_and_the_limit() {
    let dir = chart_dir(&[("a.yaml", "x: 1")], "");
    let f = std::fs::File::create(dir.path().join("c/big.bin")).expect("create");
    f.set_len(6 << 20).expect("grow");
    let err = render(dir.path()).expect_err("big file fails");
    assert_eq!(
        err.to_string(),
        "chart file \"big.bin\" is larger than the maximum file size 5242880"
    );
}

#[test]
fn files_get_and_glob_do_not_reach_outside_the_chart() {
    let dir = chart_dir(
        &[(
            "a.yaml",
            "a: {{ .Files.Get \"../outside.txt\" | quote }}\nb: {{ range $k, $v := .Files.Glob \"../*\" }}{{ $k }}{{ end }}|\nc: {{ .Files.Get \"/etc/hostname\" | quote }}\n",
        )],
        "",
    );
    std::fs::write(dir.path().join("outside.txt"), "secret").expect("write");
    let out = render(dir.path()).expect("renders");
    assert!(out.contains("a: \"\"\nb: |\nc: \"\""), "{out}");
}

fn tgz(entries: &[(&[u8], Vec<u8>)]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().expect("gnu header").name[..name.len()].copy_from_slice(name);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        gz.write_all(h.as_bytes()).expect("header");
        gz.write_all(data).expect("data");
        let pad = (512 - data.len() % 512) % 512;
        gz.write_all(&vec![0u8; pad]).expect("pad");
    }
    gz.write_all(&[0u8; 1024]).expect("end");
    gz.finish().expect("gzip")
}

fn load_tgz(data: &[u8]) -> Result<driftless_helm::Chart, Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("c.tgz");
    std::fs::write(&p, data).expect("write");
    load(&p)
}

#[test]
fn a_tgz_entry_climbing_out_of_the_chart_is_refused() {
    let data = tgz(&[
        (
            b"c/Chart.yaml",
            b"apiVersion: v2\nname: c\nversion: 0.1.0\n".to_vec(),
        ),
        (b"c/../../evil.yaml", b"x: 1\n".to_vec()),
    ]);
    let err = load_tgz(&data).expect_err("traversal fails");
    assert_eq!(
        err.to_string(),
        "chart illegally references parent directory"
    );
}

#[test]
fn a_packaged_chart_over_ten_mib_is_refused_before_unpacking() {
    let mut data = b"\x1F\x8B\x08".to_vec();
    data.resize((10 << 20) + 1, 0);
    let err = load_tgz(&data).expect_err("oversized fails");
    assert!(err.to_string().contains("maximum size"), "{err}");
}

#[test]
fn a_decompression_bomb_stops_at_one_hundred_mib() {
    let zeros = vec![0u8; 5 << 20];
    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = vec![(
        b"c/Chart.yaml".to_vec(),
        b"apiVersion: v2\nname: c\nversion: 0.1.0\n".to_vec(),
    )];
    for i in 0..21 {
        entries.push((format!("c/f{i}").into_bytes(), zeros.clone()));
    }
    let refs: Vec<(&[u8], Vec<u8>)> = entries
        .iter()
        .map(|(n, d)| (n.as_slice(), d.clone()))
        .collect();
    let data = tgz(&refs);
    assert!(data.len() < 10 << 20, "the bomb itself is small");
    let err = load_tgz(&data).expect_err("bomb fails");
    assert!(
        err.to_string().contains("decompressed chart is larger"),
        "{err}"
    );
}

#[test]
fn a_tgz_file_over_five_mib_is_refused() {
    let data = tgz(&[
        (
            b"c/Chart.yaml",
            b"apiVersion: v2\nname: c\nversion: 0.1.0\n".to_vec(),
        ),
        (b"c/big", vec![0u8; (5 << 20) + 1]),
    ]);
    let err = load_tgz(&data).expect_err("big file fails");
    assert!(
        err.to_string().contains("maximum file size 5242880"),
        "{err}"
    );
}

#[test]
fn a_packaged_chart_renders_like_its_directory() {
    let data = tgz(&[
        (
            b"c/Chart.yaml",
            b"apiVersion: v2\nname: c\nversion: 0.1.0\n".to_vec(),
        ),
        (
            b"c/templates/a.yaml",
            b"kind: A\nname: {{ .Release.Name }}\n".to_vec(),
        ),
    ]);
    let chart = load_tgz(&data).expect("loads");
    let out = template(chart, Values::new(), &Options::default()).expect("renders");
    assert_eq!(
        out,
        "---\n# Source: c/templates/a.yaml\nkind: A\nname: release-name\n"
    );
}
