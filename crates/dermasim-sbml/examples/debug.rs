fn main() {
    let args: Vec<String> = std::env::args().collect();
    let xml = std::fs::read_to_string(&args[1]).unwrap();
    let m = dermasim_sbml::load(&xml, &[]).unwrap();
    let ids: Vec<String> = args[2].split(',').map(|s| s.to_string()).collect();
    let t_end: f64 = args[3].parse().unwrap();
    let n: usize = args[4].parse().unwrap();
    let times: Vec<f64> = (0..=n).map(|i| t_end * i as f64 / n as f64).collect();
    let cols: Vec<_> = ids.iter().map(|s| dermasim_sbml::Column::Value(s.clone())).collect();
    let tc = dermasim_sbml::run(&m, 0.0, &times, &cols, dermasim_sbml::Options::default()).unwrap();
    for r in tc.rows {
        println!("{:?}", r);
    }
}
