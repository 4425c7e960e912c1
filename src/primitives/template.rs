//! `template(path, vars)`: a file beside the recipe, with `${name}` replaced by `vars.name`, so a
//! configuration file can live as a file (`write_file("/etc/haproxy/haproxy.cfg",
//! template("haproxy.cfg", #{ port: 6443 }))`) instead of a string in the recipe. Read on the
//! machine galley runs on, from the recipe's own folder, under the same rule as imports
//! ([`crate::recipe_folder`]); a placeholder `vars` does not give is an error naming its line.

use rhai::{Engine, Map, NativeCallContext};

use super::{reg, usage, RResult};
use crate::executor::Ctx;
use crate::recipe_folder;

/// Pure: `text` with every `${name}` replaced by `vars[name]` (`$${` stays a literal `${`), or
/// the first placeholder `vars` lacks, with its line.
pub fn render(text: &str, vars: &Map) -> Result<String, (usize, String)> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        if rest[..i].ends_with('$') {
            out.push_str(&rest[..i - 1]);
            out.push_str("${");
            rest = &rest[i + 2..];
            continue;
        }
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[i..]);
            return Ok(out);
        };
        let name = after[..end].trim();
        match vars.get(name) {
            Some(v) => out.push_str(&v.to_string()),
            None => {
                let at = text.len() - rest.len() + i;
                return Err((text[..at].matches('\n').count() + 1, name.to_string()));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn template(nc: NativeCallContext, path: &str, vars: Map) -> RResult<String> {
    let ctx = Ctx::of(&nc)?;
    let Some(dir) = ctx.run.recipe_dir.clone() else {
        return Err(usage(format!(
            "template(\"{path}\"): templates are read from the recipe's own folder, and a bundled recipe has none; fork it (`galley fork NAME ./my-recipe`) and put the file beside it"
        )));
    };
    let refused = |why: &str| {
        usage(format!(
            "template(\"{path}\"): give a path inside the recipe's folder (no absolute path, no `.` or `..`): {why}"
        ))
    };
    recipe_folder::check_shape(path).map_err(refused)?;
    let file = match recipe_folder::file_under(&dir, path).map_err(refused)? {
        Some(f) => f,
        None => {
            return Err(usage(format!(
                "template(\"{path}\"): {} does not exist",
                dir.join(path).display()
            )))
        }
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| usage(format!("template(\"{path}\"): {}: {e}", file.display())))?;
    render(&text, &vars).map_err(|(line, name)| {
        usage(format!(
            "template(\"{path}\"): {}:{line}: `${{{name}}}` is not among the values given ({})",
            file.display(),
            if vars.is_empty() {
                "none".to_string()
            } else {
                vars.keys()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ))
    })
}

pub fn register(engine: &mut Engine) {
    reg(
        engine,
        "template",
        &["path: &str", "vars: Map", "String"],
        &[
            "A file beside the recipe with `${name}` replaced by `vars.name` (`$${` for a literal `${`):",
            "`write_file(\"/etc/haproxy/haproxy.cfg\", template(\"haproxy.cfg\", #{ port: 6443 }))`.",
            "Read from the recipe's own folder (no absolute paths, no `..`); a placeholder not in vars is an error.",
        ],
        template,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Map {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn placeholders_are_filled_and_a_missing_one_names_its_line() {
        let v = vars(&[("port", "6443"), ("name", "api")]);
        assert_eq!(
            render("bind *:${port}\nserver ${ name } x\n", &v).unwrap(),
            "bind *:6443\nserver api x\n"
        );
        assert_eq!(
            render("keep $${HOME} and $5", &v).unwrap(),
            "keep ${HOME} and $5"
        );
        assert_eq!(render("a\nb ${nope}\n", &v), Err((2, "nope".into())));
        assert_eq!(render("${nope}", &v), Err((1, "nope".into())));
        assert_eq!(
            render("open ${ never closed", &v).unwrap(),
            "open ${ never closed"
        );
    }
}
